fn main() {
    let _ = async {
        hearth_future::select! {
            _ = std::future::ready(()) => {}
            else => {}
            else => {}
        }
    };
}
