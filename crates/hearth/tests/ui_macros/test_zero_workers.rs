#[hearth::test(workers = 0)]
async fn zero() {}

fn main() {}
