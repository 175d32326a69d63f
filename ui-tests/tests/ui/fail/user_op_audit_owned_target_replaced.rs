// Nor can the declaring module put a descriptor of its choice in an owned
// target: a `'static` borrow (of a leaked `File`) would have the op close
// a file something else still uses.
uring::ops! {
    /// Closes a file it owns.
    #[since = "5.6"]
    unsafe struct CloseOwned = CLOSE {
        target: owned,
    }
}

fn main() {
    let leaked: &'static std::fs::File = Box::leak(Box::new(std::fs::File::open("/dev/null").unwrap()));
    let mut op = CloseOwned::new(std::fs::File::open("/dev/null").unwrap());
    op.target = uring::IntoFd::into_fd(leaked);
    let _ = op;
}
