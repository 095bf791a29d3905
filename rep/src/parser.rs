//! A parser for `.rep` files: a scanner over the text that reads each declaration's
//! parenthesized or braced contents and splits them as repc does.

use crate::model::*;

/// A `.rep` file that does not parse: where, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct ParseError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// Parses a `.rep` file's text.
pub fn parse(text: &str) -> Result<RepFile, ParseError> {
    let mut p = Parser {
        text,
        at: 0,
        unnamed: 0,
    };
    p.file()
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
    /// Unnamed parameters so far, for repc's `__repc_variable_N` names.
    unnamed: usize,
}

const MODIFIERS: &[&str] = &[
    "READPUSH",
    "READWRITE",
    "READONLY",
    "CONSTANT",
    "SOURCEONLYSETTER",
    "PERSISTED",
];

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.at..]
    }

    fn position(&self, at: usize) -> (usize, usize) {
        let before = &self.text[..at.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before
            .rfind('\n')
            .map_or(before.len(), |nl| before.len() - nl - 1)
            + 1;
        (line, column)
    }

    fn error_at(&self, at: usize, message: impl Into<String>) -> ParseError {
        let (line, column) = self.position(at);
        ParseError {
            line,
            column,
            message: message.into(),
        }
    }

    fn error(&self, message: impl Into<String>) -> ParseError {
        self.error_at(self.at, message)
    }

    fn line(&self) -> usize {
        self.position(self.at).0
    }

    /// Skips whitespace and comments; `#` lines are left for the caller.
    fn skip_space(&mut self) -> Result<(), ParseError> {
        loop {
            let rest = self.rest();
            let trimmed = rest.trim_start();
            self.at += rest.len() - trimmed.len();
            if trimmed.starts_with("//") {
                self.at += trimmed.find('\n').unwrap_or(trimmed.len());
            } else if let Some(body) = trimmed.strip_prefix("/*") {
                match body.find("*/") {
                    Some(end) => self.at += end + 4,
                    None => return Err(self.error("comment not closed")),
                }
            } else {
                return Ok(());
            }
        }
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn eat(&mut self, c: char) -> Result<bool, ParseError> {
        self.skip_space()?;
        if self.peek() == Some(c) {
            self.at += c.len_utf8();
            return Ok(true);
        }
        Ok(false)
    }

    fn expect(&mut self, c: char) -> Result<(), ParseError> {
        if !self.eat(c)? {
            return Err(self.error(format!("expected `{c}`")));
        }
        Ok(())
    }

    fn ident(&mut self) -> Result<String, ParseError> {
        self.skip_space()?;
        let rest = self.rest();
        if !rest.starts_with(is_ident_start) {
            return Err(self.error("expected a name"));
        }
        let len = rest.find(|c| !is_ident_char(c)).unwrap_or(rest.len());
        self.at += len;
        Ok(rest[..len].to_owned())
    }

    /// The text up to the bracket that closes the one just read, nesting and quotes
    /// respected; leaves the parser after the closing bracket.
    fn group(&mut self, open: char, close: char) -> Result<(&'a str, usize), ParseError> {
        self.expect(open)?;
        let start = self.at;
        let mut depth = 0usize;
        let mut quoted = false;
        for (i, c) in self.rest().char_indices() {
            match c {
                '"' => quoted = !quoted,
                _ if quoted => {}
                c if c == open => depth += 1,
                c if c == close && depth == 0 => {
                    let inner = &self.text[start..start + i];
                    self.at = start + i + c.len_utf8();
                    return Ok((inner, start));
                }
                c if c == close => depth -= 1,
                _ => {}
            }
        }
        Err(self.error_at(start, format!("`{open}` is not closed")))
    }

    /// A `;` after `)` or `}` is optional.
    fn optional_semicolon(&mut self) -> Result<(), ParseError> {
        self.eat(';').map(|_| ())
    }

    fn file(&mut self) -> Result<RepFile, ParseError> {
        let mut file = RepFile::default();
        loop {
            self.skip_space()?;
            if self.rest().is_empty() {
                return Ok(file);
            }
            if self.rest().starts_with('#') {
                let line_end = self.rest().find('\n').unwrap_or(self.rest().len());
                file.directives
                    .push(self.rest()[..line_end].trim_end().to_owned());
                self.at += line_end;
                continue;
            }
            let at = self.at;
            let keyword = self.ident()?;
            match keyword.as_str() {
                "class" => file.classes.push(self.class()?),
                "POD" => file.pods.push(self.pod()?),
                "ENUM" => file.enums.push(self.enumeration()?),
                "FLAG" => file.flags.push(self.flag()?),
                "USE_ENUM" => {
                    let (inner, start) = self.group('(', ')')?;
                    let name = inner.trim();
                    if !name.starts_with(is_ident_start) {
                        return Err(self.error_at(start, "USE_ENUM needs an enum's name"));
                    }
                    file.used_enums.push(name.to_owned());
                    self.optional_semicolon()?;
                }
                "PROP" | "SIGNAL" | "SLOT" | "MODEL" | "CLASS" => {
                    return Err(
                        self.error_at(at, format!("{keyword} is only allowed inside a class"))
                    )
                }
                other => {
                    return Err(self.error_at(
                        at,
                        format!(
                            "expected `class`, `POD`, `ENUM`, `FLAG` or `USE_ENUM`, found `{other}`"
                        ),
                    ))
                }
            }
        }
    }

    fn class(&mut self) -> Result<Class, ParseError> {
        let line = self.line();
        let name = self.ident()?;
        self.expect('{')?;
        let mut class = Class {
            name,
            members: Vec::new(),
            properties: Vec::new(),
            signals: Vec::new(),
            slots: Vec::new(),
            enums: Vec::new(),
            flags: Vec::new(),
            line,
        };
        loop {
            if self.eat('}')? {
                self.optional_semicolon()?;
                return Ok(class);
            }
            if self.rest().is_empty() {
                return Err(self.error(format!("class {} is not closed", class.name)));
            }
            let at = self.at;
            let line = self.line();
            let keyword = self.ident()?;
            match keyword.as_str() {
                "PROP" => {
                    let (inner, start) = self.group('(', ')')?;
                    let prop = self.property(inner, start, line)?;
                    class.properties.push(prop.clone());
                    class.members.push(ClassMember::Property(prop));
                }
                "SIGNAL" => {
                    let (inner, start) = self.group('(', ')')?;
                    class
                        .signals
                        .push(self.function(inner, start, false, line)?);
                }
                "SLOT" => {
                    let (inner, start) = self.group('(', ')')?;
                    class.slots.push(self.function(inner, start, true, line)?);
                }
                "MODEL" => {
                    let name = self.ident()?;
                    let (inner, start) = self.group('(', ')')?;
                    let roles: Vec<String> = inner
                        .split(',')
                        .map(str::trim)
                        .filter(|r| !r.is_empty())
                        .map(str::to_owned)
                        .collect();
                    if roles.is_empty() {
                        return Err(self.error_at(
                            start,
                            format!(
                                "MODEL {name} needs at least one role (repc takes no empty list)"
                            ),
                        ));
                    }
                    class
                        .members
                        .push(ClassMember::Model(Model { name, roles, line }));
                }
                "CLASS" => {
                    let name = self.ident()?;
                    let (inner, start) = self.group('(', ')')?;
                    let child = inner.trim();
                    if !child.starts_with(is_ident_start) {
                        return Err(self.error_at(start, "CLASS needs a class name"));
                    }
                    class.members.push(ClassMember::Child {
                        name,
                        class: child.to_owned(),
                        line,
                    });
                }
                "ENUM" => class.enums.push(self.enumeration()?),
                "FLAG" => class.flags.push(self.flag()?),
                "class" => return Err(self.error_at(at, "classes cannot be nested")),
                other => {
                    return Err(self.error_at(
                        at,
                        format!(
                            "expected `PROP`, `SIGNAL`, `SLOT`, `ENUM`, `FLAG`, `MODEL` or \
                             `CLASS`, found `{other}`"
                        ),
                    ))
                }
            }
            self.optional_semicolon()?;
        }
    }

    /// `Type name[=default] [MODIFIERS]`.
    fn property(&mut self, inner: &str, start: usize, line: usize) -> Result<Property, ParseError> {
        let mut text = inner.trim_end();
        let mut modifiers = Vec::new();
        loop {
            let word_start = text.rfind(|c: char| !is_ident_char(c)).map_or(0, |i| i + 1);
            let word = &text[word_start..];
            if word_start == 0 || !MODIFIERS.contains(&word) {
                break;
            }
            modifiers.push(word);
            text = text[..word_start].trim_end();
        }
        let (declaration, default) = match split_default(text) {
            Some((decl, default)) => (decl.trim(), Some(default.trim().to_owned())),
            None => (text.trim(), None),
        };
        if default.as_deref() == Some("") {
            return Err(self.error_at(start, "`=` needs a default value after it"));
        }
        let (ty, name) = split_last_word(declaration)
            .ok_or_else(|| self.error_at(start, "PROP needs a type and a name"))?;
        // Qt 6.4's repc takes at most one modifier; PERSISTED alone means READPUSH.
        let (access, persisted) = match modifiers.as_slice() {
            [] | ["READPUSH"] => (Access::ReadPush, false),
            ["PERSISTED"] => (Access::ReadPush, true),
            ["READWRITE"] => (Access::ReadWrite, false),
            ["READONLY"] => (Access::ReadOnly, false),
            ["CONSTANT"] => (Access::Constant, false),
            ["SOURCEONLYSETTER"] => (Access::SourceOnlySetter, false),
            _ => {
                modifiers.reverse();
                return Err(self.error_at(
                    start,
                    format!(
                        "PROP {name}: modifiers `{}` cannot be combined (repc takes one)",
                        modifiers.join(" ")
                    ),
                ));
            }
        };
        Ok(Property {
            ty: normalize_type(ty),
            name: name.to_owned(),
            default,
            access,
            persisted,
            line,
        })
    }

    /// `[Ret] name(params)`; a signal has no return type.
    fn function(
        &mut self,
        inner: &str,
        start: usize,
        is_slot: bool,
        line: usize,
    ) -> Result<Function, ParseError> {
        let open = inner
            .find('(')
            .ok_or_else(|| self.error_at(start, "expected `name(parameters)`"))?;
        let close = inner
            .rfind(')')
            .filter(|c| *c > open && inner[c + 1..].trim().is_empty())
            .ok_or_else(|| self.error_at(start, "expected `)` at the end of the parameters"))?;
        let head = inner[..open].trim();
        let (ret, name) = match split_last_word(head) {
            Some((ret, name)) => (normalize_type(ret), name),
            None if head.starts_with(is_ident_start) && head.chars().all(is_ident_char) => {
                (String::new(), head)
            }
            None => return Err(self.error_at(start, "expected a name before `(`")),
        };
        if !is_slot && !ret.is_empty() {
            return Err(self.error_at(start, "a SIGNAL has no return type"));
        }
        let ret = if ret.is_empty() {
            "void".to_owned()
        } else {
            ret
        };
        let params = self.params(&inner[open + 1..close], start + open + 1)?;
        Ok(Function {
            name: name.to_owned(),
            params,
            ret,
            line,
        })
    }

    fn params(&mut self, text: &str, start: usize) -> Result<Vec<Param>, ParseError> {
        let mut params = Vec::new();
        for piece in split_top_level(text) {
            let piece = piece.trim();
            if piece.is_empty() {
                if text.trim().is_empty() {
                    break;
                }
                return Err(self.error_at(start, "an empty parameter"));
            }
            params.push(self.param(piece, start)?);
        }
        Ok(params)
    }

    fn param(&mut self, piece: &str, start: usize) -> Result<Param, ParseError> {
        let is_ref = piece.contains('&');
        let text = piece.replace('&', " ");
        let text = text.trim();
        let is_const = text.split_whitespace().next() == Some("const");
        let text = text.strip_prefix("const ").unwrap_or(text).trim();
        let (ty, name) = match split_last_word(text) {
            Some((ty, name)) if !ty.ends_with(['<', ',']) => (normalize_type(ty), name.to_owned()),
            _ => {
                self.unnamed += 1;
                (
                    normalize_type(text),
                    format!("__repc_variable_{}", self.unnamed),
                )
            }
        };
        if ty.is_empty() {
            return Err(self.error_at(start, format!("parameter `{piece}` has no type")));
        }
        Ok(Param {
            ty,
            name,
            is_const,
            is_ref,
        })
    }

    /// `ENUM [class] Name [: type] { A, B = 5 }`, after the keyword.
    fn enumeration(&mut self) -> Result<Enum, ParseError> {
        let line = self.line();
        let mut name = self.ident()?;
        let scoped = name == "class";
        if scoped {
            name = self.ident()?;
        }
        let underlying = if self.eat(':')? {
            self.skip_space()?;
            let end = self.rest().find('{').unwrap_or(self.rest().len());
            let ty = self.rest()[..end].trim().to_owned();
            if ty.is_empty() {
                return Err(self.error("expected the enum's underlying type after `:`"));
            }
            self.at += end;
            Some(ty)
        } else {
            None
        };
        let (inner, start) = self.group('{', '}')?;
        let mut values = Vec::new();
        let mut next = 0i64;
        for item in inner.split(',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let (key, value) = match item.split_once('=') {
                Some((key, value)) => {
                    let value = parse_int(value.trim()).ok_or_else(|| {
                        self.error_at(
                            start,
                            format!("enum {name}: `{}` is not an integer", value.trim()),
                        )
                    })?;
                    (key.trim(), value)
                }
                None => (item, next),
            };
            if !key.starts_with(is_ident_start) || !key.chars().all(is_ident_char) {
                return Err(self.error_at(start, format!("enum {name}: `{key}` is not a name")));
            }
            values.push((key.to_owned(), value));
            next = value.wrapping_add(1);
        }
        self.optional_semicolon()?;
        Ok(Enum {
            name,
            scoped,
            underlying,
            values,
            line,
        })
    }

    fn flag(&mut self) -> Result<Flag, ParseError> {
        let (inner, start) = self.group('(', ')')?;
        let mut words = inner.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some(name), Some(enum_name), None) => {
                self.optional_semicolon()?;
                Ok(Flag {
                    name: name.to_owned(),
                    enum_name: enum_name.to_owned(),
                    line: self.position(start).0,
                })
            }
            _ => Err(self.error_at(start, "expected FLAG(FlagsName EnumName)")),
        }
    }

    fn pod(&mut self) -> Result<Pod, ParseError> {
        let line = self.line();
        let name = self.ident()?;
        self.skip_space()?;
        let mut pod = Pod {
            name,
            members: Vec::new(),
            enums: Vec::new(),
            flags: Vec::new(),
            line,
        };
        if self.peek() == Some('(') {
            let (inner, start) = self.group('(', ')')?;
            pod.members = self.params(inner, start)?;
        } else {
            self.expect('{')?;
            loop {
                self.skip_space()?;
                let at = self.at;
                if self.eat('}')? {
                    break;
                }
                let rest = self.rest();
                if rest.starts_with("ENUM") {
                    self.ident()?;
                    pod.enums.push(self.enumeration()?);
                } else if rest.starts_with("FLAG") {
                    self.ident()?;
                    pod.flags.push(self.flag()?);
                } else {
                    let end = rest
                        .find('}')
                        .ok_or_else(|| self.error(format!("POD {} is not closed", pod.name)))?;
                    let members = &rest[..end];
                    self.at += end;
                    pod.members = self.params(members.trim().trim_end_matches(';'), at)?;
                }
            }
        }
        if pod.members.is_empty() {
            return Err(self.error(format!("POD {} has no members", pod.name)));
        }
        self.optional_semicolon()?;
        Ok(pod)
    }
}

/// Splits `text` at its `=` outside quotes and brackets.
fn split_default(text: &str) -> Option<(&str, &str)> {
    let mut depth = 0i32;
    let mut quoted = false;
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            _ if quoted => {}
            '<' | '(' | '[' | '{' => depth += 1,
            '>' | ')' | ']' | '}' => depth -= 1,
            '=' if depth == 0 => return Some((&text[..i], &text[i + 1..])),
            _ => {}
        }
    }
    None
}

/// `(everything before, the last identifier)`, if there is something before it.
fn split_last_word(text: &str) -> Option<(&str, &str)> {
    let text = text.trim_end();
    let start = text.rfind(|c: char| !is_ident_char(c)).map_or(0, |i| i + 1);
    let word = &text[start..];
    let before = text[..start].trim_end();
    if word.is_empty() || !word.starts_with(is_ident_start) || before.is_empty() {
        return None;
    }
    Some((before, word))
}

/// Splits a list of types or parameters at the commas outside `<>` and `()`
/// (`QMap<QString, int>, bool` → [`QMap<QString, int>`, ` bool`]).
pub fn split_top_level(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut last = 0;
    for (i, c) in text.char_indices() {
        match c {
            '<' | '(' => depth += 1,
            '>' | ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&text[last..i]);
                last = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[last..]);
    out
}

/// One space between words, none around `<`, `>`, `,`, `*`; `const` and `&` dropped.
fn normalize_type(ty: &str) -> String {
    let spaced = ty
        .replace('&', " ")
        .replace('<', " < ")
        .replace('>', " > ")
        .replace(',', " , ")
        .replace('*', " * ");
    let words: Vec<&str> = spaced
        .split_whitespace()
        .filter(|w| *w != "const")
        .collect();
    let mut out = String::new();
    let punct = |w: &str| matches!(w, "<" | ">" | "," | "*");
    for (i, word) in words.iter().enumerate() {
        if i > 0 && !punct(word) && !punct(words[i - 1]) {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

fn parse_int(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest.trim()),
        None => (false, text),
    };
    let value = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        i64::from_str_radix(hex, 16).ok()?
    } else {
        digits.parse::<i64>().ok()?
    };
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEMO: &str = include_str!("../tests/demo.rep");

    #[test]
    fn demo_rep_parses_as_qt_reads_it() {
        let file = parse(DEMO).unwrap();
        assert_eq!(file.directives, ["#include <QtCore>"]);
        assert_eq!(file.pods[0].name, "MyPod");
        assert_eq!(file.pods[0].members[1].ty, "QString");
        assert_eq!(
            file.enums[0].values,
            [("GA".into(), 0), ("GB".into(), 5), ("GC".into(), 6)]
        );
        let demo = &file.classes[0];
        assert_eq!(demo.name, "Demo");
        assert_eq!(demo.enums[0].values[2], ("Auto".into(), 4));
        let p = &demo.properties;
        assert_eq!(
            (p[0].name.as_str(), p[0].default.as_deref()),
            ("count", Some("5"))
        );
        assert_eq!(p[0].access, Access::ReadPush);
        assert_eq!(p[1].access, Access::ReadWrite);
        assert_eq!(p[2].access, Access::ReadOnly);
        assert_eq!(p[3].access, Access::Constant);
        assert_eq!(p[4].access, Access::SourceOnlySetter);
        assert!(p[5].persisted && p[5].access == Access::ReadPush);
        assert_eq!(demo.signals[0].params[1].name, "msg");
        assert_eq!(demo.slots[0].ret, "int");
        assert_eq!(demo.slots[1].ret, "void");
        let s = &demo.slots[2].params[0];
        assert_eq!(
            (s.ty.as_str(), s.is_const, s.is_ref),
            ("QString", true, true)
        );
    }

    #[test]
    fn every_construct_parses() {
        let text = r#"
            #include <QtCore>
            /* block
               comment */
            USE_ENUM(Qt::Alignment)
            ENUM class Level : quint8 { Low, Mid = 0x10, High, Neg = -1 }
            FLAG(Levels Level)
            POD Point3 { ENUM Axis {X, Y, Z}; FLAG(Axes Axis) double x, double y, double z }
            POD Pair(QMap<QString, int> map, QList<Point3> points);
            class Child { PROP(int value=1) };
            class Parent
            {
                PROP(QString title="hello world" PERSISTED)
                PROP(int fixed CONSTANT)
                CLASS child(Child)
                MODEL items(display, edit)
                SIGNAL(moved(int, QString))   // unnamed parameters
                SLOT(finish())
                SLOT(QList<int> many(const QMap<QString, int> &m));
            };
        "#;
        let file = parse(text).unwrap();
        assert_eq!(file.used_enums, ["Qt::Alignment"]);
        let level = &file.enums[0];
        assert!(level.scoped);
        assert_eq!(level.underlying.as_deref(), Some("quint8"));
        assert_eq!(level.values[2], ("High".into(), 17));
        assert_eq!(level.values[3], ("Neg".into(), -1));
        assert_eq!(file.flags[0].name, "Levels");
        assert_eq!(file.pods[0].enums[0].name, "Axis");
        assert_eq!(file.pods[0].flags[0].enum_name, "Axis");
        assert_eq!(file.pods[0].members.len(), 3);
        assert_eq!(file.pods[1].members[0].ty, "QMap<QString,int>");
        let parent = &file.classes[1];
        assert_eq!(
            parent.properties[0].default.as_deref(),
            Some("\"hello world\"")
        );
        assert_eq!(parent.properties[0].access, Access::ReadPush);
        assert!(parent.properties[0].persisted);
        assert_eq!(parent.properties[1].access, Access::Constant);
        assert_eq!(parent.members.len(), 4);
        assert!(matches!(&parent.members[2], ClassMember::Child { class, .. } if class == "Child"));
        assert!(
            matches!(&parent.members[3], ClassMember::Model(m) if m.roles == ["display", "edit"])
        );
        assert_eq!(parent.signals[0].params[0].name, "__repc_variable_1");
        assert_eq!(parent.signals[0].params[1].ty, "QString");
        assert_eq!(parent.slots[0].ret, "void");
        assert_eq!(parent.slots[1].ret, "QList<int>");
        assert_eq!(parent.slots[1].params[0].ty, "QMap<QString,int>");
    }

    fn error(text: &str) -> ParseError {
        parse(text).expect_err(text)
    }

    #[test]
    fn errors_point_at_line_and_column() {
        let e = error("class A {\n    PROP(int)\n}");
        assert_eq!((e.line, e.column), (2, 10));
        assert!(e.message.contains("type and a name"), "{e}");
        let e = error("PROP(int a)");
        assert_eq!((e.line, e.column), (1, 1));
        assert!(e.message.contains("only allowed inside a class"));
        for pair in [
            "READWRITE READONLY",
            "READONLY PERSISTED",
            "READONLY CONSTANT",
        ] {
            let e = error(&format!("class A {{ PROP(int a {pair}) }}"));
            assert!(
                e.message.contains(&format!("`{pair}` cannot be combined")),
                "{e}"
            );
        }
        assert!(error("class A { SIGNAL(int s()) }")
            .message
            .contains("no return type"));
        assert!(error("class A { PROP(int a) ")
            .message
            .contains("not closed"));
        assert!(error("class A { class B {} }").message.contains("nested"));
        assert!(error("class A { WIDGET(x) }")
            .message
            .contains("found `WIDGET`"));
        assert!(error("ENUM E { A = one }")
            .message
            .contains("not an integer"));
        assert!(error("FLAG(OnlyOne)")
            .message
            .contains("FLAG(FlagsName EnumName)"));
        assert!(error("POD P()").message.contains("no members"));
        assert!(error("/* open").message.contains("comment not closed"));
        assert!(error("class A { SLOT(void f(int a,)) }")
            .message
            .contains("empty parameter"));
        assert!(error("class A { PROP(int a=) }")
            .message
            .contains("default value"));
        assert!(error("class A { CLASS c() }")
            .message
            .contains("class name"));
        assert!(error("class A { MODEL m() }")
            .message
            .contains("at least one role"));
        assert!(error("widget").message.contains("expected `class`"));
        let e = error("\n\nclass A {\n  SLOT(void f(int a)\n}");
        assert_eq!(e.line, 4, "{e}");
    }
}
