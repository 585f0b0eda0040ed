#[hearth::main]
fn main() {}
