//! The `remote_object!` macro's mistakes are compile errors that point at the offending
//! token; the `.stderr` snapshots under `tests/ui/` pin the messages.

#[test]
fn macro_mistakes_are_compile_errors() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
