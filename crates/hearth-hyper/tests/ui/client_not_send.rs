fn main() {
    fn send<T: Send>(_: T) {}
    send(hearth_hyper::Client::new());
}
