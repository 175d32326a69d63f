// Nor through `.into()`.
use uring::Fixed;

fn main() {
    let _slot: Fixed<'static> = 3i32.into();
}
