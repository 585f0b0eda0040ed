fn main() {
    let _ = async {
        hearth_future::select! {
            v = std::future::ready(1) => v + 1
            w = std::future::ready(2) => w
        }
    };
}
