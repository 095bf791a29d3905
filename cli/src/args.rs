//! `ARO_URL`: the URL a command line may leave out. Every subcommand but `completions` takes
//! the URL as its first argument; when that argument is not a URL, the default is put there.

use std::ffi::OsString;

/// Options that take a value, whose value is not a positional argument.
const OPTIONS_WITH_VALUES: &[&str] = &["--timeout", "--name"];

/// Subcommands whose first argument is not a URL.
const WITHOUT_URL: &[&str] = &["completions", "help"];

/// `args` (the program's name first), with `default_url` inserted as the subcommand's first
/// argument when one is set and the command line left the URL out.
pub(crate) fn with_default_url(
    mut args: Vec<OsString>,
    default_url: Option<&str>,
) -> Vec<OsString> {
    let Some(default_url) = default_url else {
        return args;
    };
    // Help and version print and exit; they need no URL.
    let asks_for_help =
        |a: &OsString| matches!(a.to_str(), Some("--help" | "-h" | "--version" | "-V"));
    if args.iter().skip(1).any(asks_for_help) {
        return args;
    }
    let positionals = positional_indices(&args);
    let Some(&command) = positionals.first() else {
        return args;
    };
    if WITHOUT_URL.iter().any(|c| args[command] == *c) {
        return args;
    }
    match positionals.get(1) {
        Some(&first) if looks_like_url(&args[first]) => {}
        Some(&first) => args.insert(first, default_url.into()),
        None => args.push(default_url.into()),
    }
    args
}

/// Where the positional arguments are (the subcommand's name is the first), skipping option
/// values.
fn positional_indices(args: &[OsString]) -> Vec<usize> {
    let mut found = Vec::new();
    let mut skip_value = false;
    for (i, arg) in args.iter().enumerate().skip(1) {
        let text = arg.to_string_lossy();
        if skip_value {
            skip_value = false;
        } else if OPTIONS_WITH_VALUES.contains(&text.as_ref()) {
            skip_value = true;
        } else if !text.starts_with('-') || text == "-" {
            found.push(i);
        }
    }
    found
}

/// A URL `aro` connects to or listens on, as opposed to a source's name.
fn looks_like_url(arg: &OsString) -> bool {
    let text = arg.to_string_lossy();
    text.contains("://") || text.starts_with("local:") || text.starts_with("mdns:")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(line: &str, default: Option<&str>) -> String {
        let args = line.split(' ').map(OsString::from).collect();
        let out = with_default_url(args, default);
        out.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn the_default_url_goes_where_the_url_was_left_out() {
        let url = Some("tcp://h:1");
        assert_eq!(run("aro get Printer", url), "aro get tcp://h:1 Printer");
        assert_eq!(
            run("aro --timeout 2 get Printer ink", url),
            "aro --timeout 2 get tcp://h:1 Printer ink"
        );
        assert_eq!(
            run("aro --json call Printer print \"a\"", url),
            "aro --json call tcp://h:1 Printer print \"a\""
        );
        assert_eq!(run("aro list", url), "aro list tcp://h:1");
        assert_eq!(run("aro monitor", url), "aro monitor tcp://h:1");
    }

    #[test]
    fn a_given_url_and_commands_without_one_are_left_alone() {
        let url = Some("tcp://h:1");
        assert_eq!(run("aro list mdns:lab", url), "aro list mdns:lab");
        assert_eq!(
            run("aro get local:other Printer", url),
            "aro get local:other Printer"
        );
        assert_eq!(
            run("aro get tls://x:2 Printer", url),
            "aro get tls://x:2 Printer"
        );
        assert_eq!(run("aro completions bash", url), "aro completions bash");
        assert_eq!(run("aro get --help", url), "aro get --help");
        assert_eq!(run("aro get Printer", None), "aro get Printer");
    }
}
