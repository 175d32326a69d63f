// An opcode given as a program's own constant, named by a bare
// identifier: the macro reads a one-word opcode as one of the kernel's
// `IORING_OP_*` names, and refuses it. (A path, `self::MY_OPCODE`, is
// taken as a constant: see `user_op_audit_link_timeout_by_path`.)
const MY_OPCODE: u8 = 0;

uring::ops! {
    /// A NOP under another name.
    #[since = "5.1"]
    unsafe struct Renamed = MY_OPCODE {}
}

fn main() {}
