#[hearth::test]
fn plain() {}

fn main() {}
