// A sync-cancel key made from a `Fixed` borrows the registration: it cannot
// be used after the files are unregistered, when the slot may hold another
// file.
use std::os::fd::AsFd;
use uring::{Ring, SyncCancel};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::open("/dev/null").unwrap();
    let files = ring.register_files(&[file.as_fd()]).unwrap();
    let key = SyncCancel::fd(files.get(0).unwrap());
    ring.unregister_files(files).unwrap();
    let _ = ring.cancel_sync(key, None);
}
