// A splice's input (`SpliceSource`) borrows its file as the target does: the
// op cannot be pushed once the input is closed, when its number may name
// another file. Keep the input open until the scope ends.
use uring::{Ring, ops::Splice};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let (rx, _tx) = std::io::pipe().unwrap();
    let out = std::fs::File::options()
        .write(true)
        .open("/dev/null")
        .unwrap();
    let splice = Splice::new(&out, &rx, 16);
    drop(rx);
    ring.scope(|s| {
        s.push(splice).unwrap();
    });
}
