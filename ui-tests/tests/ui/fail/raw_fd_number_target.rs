// A bare descriptor number names whatever file holds it when the kernel
// looks: an op takes a borrowed descriptor, and a number only through
// `unsafe { Fd::borrow_raw(n) }`.
use uring::ops::Write;

fn main() {
    let _write = Write::new(3, b"hello");
}
