// A worker pool is shared with a ring, named by a borrow of it: a file that
// is not a ring cannot be passed.
use uring::Ring;

fn main() {
    let file = std::fs::File::open("/dev/null").unwrap();
    let _ring = Ring::builder().attach_wq(&file).build(4);
}
