#[hearth::test(pin_to_cores)]
async fn flag() {}

fn main() {}
