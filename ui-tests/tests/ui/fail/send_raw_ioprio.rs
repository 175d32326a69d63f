// A send's `ioprio` field holds flags that change what the kernel reads
// (a vector where a buffer was given): only the typed flags are settable.
use uring::ops::Send;

fn main() {
    let (socket, _peer) = std::os::unix::net::UnixStream::pair().unwrap();
    let _send = Send::new(&socket, b"x").ioprio(1 << 5);
}
