//! `!Send` promises, checked by the compiler: a `Client` stays on its
//! worker.

#[test]
#[cfg_attr(miri, ignore)]
fn compile_fail() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
