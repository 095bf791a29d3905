//! The `remote_object!` macro of `actix-remote-objects`: one API definition, expanded into
//! the source-side and replica-side code. See the library's documentation for the syntax.

mod expand;
mod parse;
mod rep_import;
mod signature;

use proc_macro::TokenStream;

/// Defines a remote object API: its properties, signals and slots.
///
/// ```text
/// remote_object! {
///     /// Docs for the API.
///     pub Printer as "example.Printer" {        // `as "wire name"` is optional
///         prop ink_level: u8 = 100, read_only;  // read_only (default), read_write, constant
///         prop volume: u8 = 5, read_write, persisted; // saved by a node's persisted store
///         prop status: Status;                  // no default: Default::default()
///         enum Tray { Upper, Lower = 4 }        // a Rust enum; Qt sees these values
///         signal paper_jam(tray: u32);
///         slot print(doc: String) -> u32;       // no `-> T`: returns ()
///     }
/// }
/// ```
///
/// Or imports every class of a Qt `.rep` file (its path relative to the crate's manifest
/// directory), with a Rust struct for each `POD` and a Rust enum for each `ENUM`:
///
/// ```text
/// remote_object!(rep = "api/printer.rep");
/// ```
///
/// Generates the marker type `Printer` (implementing `RemoteObject`) and a module
/// `printer` holding `Properties`, `PropertyChange`, `Signal`, one struct per signal and
/// per slot, `SimpleSource`, and `ReplicaExt` (typed getters and setters on a replica).
#[proc_macro]
pub fn remote_object(input: TokenStream) -> TokenStream {
    if rep_import::is_import(&input.clone().into()) {
        return match syn::parse::<rep_import::RepImport>(input).and_then(|i| rep_import::expand(&i))
        {
            Ok(items) => items.into(),
            Err(error) => error.to_compile_error().into(),
        };
    }
    match syn::parse::<parse::ApiDef>(input) {
        Ok(def) => match def.validate() {
            Ok(()) => expand::expand(&def).into(),
            Err(error) => error.to_compile_error().into(),
        },
        Err(error) => error.to_compile_error().into(),
    }
}
