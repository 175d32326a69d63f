// A reactor RecvFrom reads the sender as std's SocketAddr or std's Unix one.
use uring::reactor::ops::RecvFrom;

fn main() {
    let _recv: Option<RecvFrom<Vec<u8>, String>> = None;
}
