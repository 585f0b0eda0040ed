//! Misuse of `#[hearth::main]` and `#[hearth::test]` fails to compile with a
//! message that says what to change.

#[test]
#[cfg_attr(miri, ignore)]
#[cfg(not(feature = "nightly"))] // the expected messages are the stable toolchain's
fn macro_misuse_is_a_clear_compile_error() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui_macros/*.rs");
}
