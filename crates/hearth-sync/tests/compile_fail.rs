//! The `!Send` / `!Sync` promises, checked by the compiler.

#[test]
#[cfg_attr(miri, ignore = "trybuild runs rustc")]
#[cfg(not(feature = "nightly"))] // the expected messages are the stable toolchain's
fn compile_fail() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
