// A stream's read hands its buffer to the kernel until the read's last
// completion, which may come after the future is dropped: a borrowed buffer
// is not one it can keep. Give it an owned buffer (`Vec<u8>`) and take it
// back from the result.
use uring::{net::UnixStream, reactor::Reactor};

fn main() {
    let reactor = Reactor::new().unwrap();
    let (mut stream, _peer) = UnixStream::pair(&reactor.handle()).unwrap();
    let mut local = [0u8; 16];
    reactor
        .run_until(async {
            let _ = stream.read(&mut local[..]).await;
        })
        .unwrap();
}
