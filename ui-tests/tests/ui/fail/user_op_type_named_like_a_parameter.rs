// An argument's type named `T` (or `B`) by itself would be taken for the
// op's own type parameter: the table says to write its path instead.
#[allow(dead_code)]
type T = u32;

uring::ops! {
    /// An fsync with raw flags.
    #[since = "5.1"]
    pub unsafe struct RawFsync = FSYNC {
        target: fd | fixed,
        flags_raw: T = 0 => fsync_flags,
    }
}

fn main() {}
