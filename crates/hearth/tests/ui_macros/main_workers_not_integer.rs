#[hearth::main(workers = "two")]
async fn main() {}
