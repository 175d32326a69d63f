// Not even by naming the struct.
use uring::Fixed;

fn main() {
    let _slot = Fixed(3);
}
