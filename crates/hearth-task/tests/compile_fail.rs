//! `!Send`/`!Sync` promises and lifetimes, checked by the compiler.
//!
//! The expected messages are those of the stable toolchain; with the `nightly`
//! feature the types are std's and the messages differ, so the check runs on
//! the stable build only.

#[test]
#[cfg_attr(miri, ignore)]
#[cfg(not(feature = "nightly"))]
fn compile_fail() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
