// A `DirectSlot` holds its slot exclusively and is not `Copy`: two opens
// cannot both install a file there.
use std::os::fd::AsFd;
use uring::{DirectSlot, Fd, Ring, ops::OpenAt};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::open("/dev/null").unwrap();
    let mut files = ring.register_files(&[file.as_fd()]).unwrap();
    ring.scope(|s| {
        let slot = DirectSlot::at(files.get_mut(0).unwrap());
        let _ = s.push(OpenAt::new(Fd::CWD, c"/dev/null").direct(slot));
        let _ = s.push(OpenAt::new(Fd::CWD, c"/dev/zero").direct(slot));
    });
}
