// A splice's input is borrowed like its target: a bare number names whatever
// file holds it when the kernel looks. Pass `&file`, a `BorrowedFd` or a
// `Fixed` file.
use uring::ops::Splice;

fn main() {
    let (_reader, writer) = std::io::pipe().unwrap();
    let _splice = Splice::new(&writer, 0, 16);
}
