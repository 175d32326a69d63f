// A sync-cancel key borrows the descriptor it names: it cannot be used
// after the file is closed, when the number may name another file.
use uring::{Ring, SyncCancel};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::open("/dev/null").unwrap();
    let key = SyncCancel::fd(&file);
    drop(file);
    let _ = ring.cancel_sync(key, None);
}
