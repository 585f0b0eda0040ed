fn main() {
    let _ = async {
        hearth_future::select! {}
    };
}
