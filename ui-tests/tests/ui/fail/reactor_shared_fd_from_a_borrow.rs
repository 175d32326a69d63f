// A `SharedFd` owns its descriptor (ops in flight keep it open): it is
// made from an owned file, not a borrow of one.
use uring::reactor::SharedFd;

fn main() {
    let file = std::fs::File::open("/dev/zero").unwrap();
    let _fd = SharedFd::new(&file);
}
