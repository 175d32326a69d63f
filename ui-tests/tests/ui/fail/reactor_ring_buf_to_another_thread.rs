// A buffer received through a reactor's buffer ring goes back to that ring
// when dropped, and the ring is the reactor's thread's: a `RingBuf` cannot
// be sent to another thread. Copy its bytes out and send the copy.
use uring::reactor::RingBuf;

fn hand_over(buf: RingBuf) {
    std::thread::spawn(move || drop(buf));
}

fn main() {
    let _ = hand_over;
}
