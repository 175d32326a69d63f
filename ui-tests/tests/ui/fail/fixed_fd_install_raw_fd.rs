// FIXED_FD_INSTALL turns a registered file into a descriptor: it takes a
// `Fixed`, never a raw fd.
use uring::ops::FixedFdInstall;

fn main() {
    let file = std::fs::File::open("/dev/null").unwrap();
    let _install = FixedFdInstall::new(&file);
}
