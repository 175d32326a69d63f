// Nor can a lent buffer be freed inside the scope.
use uring::{Ring, ops::Write};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::create("/dev/null").unwrap();
    let data = vec![1u8; 64];
    ring.scope(|s| {
        s.push(Write::new(&file, &data)).unwrap();
        drop(data);
    });
}
