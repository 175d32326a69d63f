//! What an op table says, as parsed, before it is checked.

use proc_macro2::Span;
use syn::{Attribute, Expr, Generics, Ident, LitInt, LitStr, Path, Type, Visibility};

/// A whole `ops! { .. }` invocation.
pub(crate) struct Table {
    /// `#![list(pub const NAME)]`: also emit a slice describing every op.
    pub(crate) list: Option<List>,
    pub(crate) entries: Vec<Entry>,
}

/// The optional list of all ops of the table.
pub(crate) struct List {
    pub(crate) vis: Visibility,
    pub(crate) name: Ident,
}

/// One op: `pub unsafe struct Read<'a> = READ { .. }`.
pub(crate) struct Entry {
    pub(crate) docs: Vec<Attribute>,
    /// Attributes passed through to the struct (`cfg`, `deprecated`, `allow`).
    pub(crate) passthrough: Vec<Attribute>,
    pub(crate) since: Option<LitStr>,
    /// `#[after_link]`: the op only exists after a linked op (LINK_TIMEOUT).
    pub(crate) after_link: Option<Span>,
    /// `#[retains_memory]`: the kernel keeps using the op's memory after the
    /// op completes (PROVIDE_BUFFERS), so no scope may lend it.
    pub(crate) retains_memory: Option<Span>,
    /// `#[sqe128]`: the op fills a 128-byte SQE (an 80-byte command), so
    /// only rings of `Sqe128` SQEs take it.
    pub(crate) sqe128: Option<Span>,
    pub(crate) vis: Visibility,
    pub(crate) unsafety: Option<syn::Token![unsafe]>,
    pub(crate) name: Ident,
    pub(crate) generics: Generics,
    pub(crate) opcode: Option<Opcode>,
    pub(crate) target: Option<Target>,
    pub(crate) args: Vec<Arg>,
    pub(crate) consts: Vec<Const>,
}

/// The opcode after `=`.
pub(crate) enum Opcode {
    /// A kernel name without its `IORING_OP_` prefix: `READ`.
    Kernel(Ident),
    /// A number: `46`.
    Int(LitInt),
    /// Any other path to a `u8` constant: `my_driver::OP`.
    Path(Path),
}

/// `target: fd | fixed` and its variants.
pub(crate) struct Target {
    pub(crate) token: Ident,
    pub(crate) kinds: Vec<Ident>,
    /// `fixed(file_index)`: a fixed target goes to this field (index + 1)
    /// instead of `fd` with `IOSQE_FIXED_FILE`.
    pub(crate) fixed_field: Option<Ident>,
}

/// One argument of an op.
pub(crate) struct Arg {
    pub(crate) docs: Vec<Attribute>,
    /// `#[ring_owned]`: the ring keeps a copy until the kernel consumed the SQE,
    /// and the field gets its address.
    pub(crate) ring_owned: Option<Span>,
    pub(crate) name: Ident,
    /// The stored type (for `impl Into<X>`, `X`).
    pub(crate) ty: Type,
    /// Declared as `impl Into<ty>`.
    pub(crate) into: bool,
    /// `| select`: a provided-buffer selection may stand in for it; or
    /// `buf: select`: only a selection is accepted (`select_only`).
    pub(crate) select: Option<Ident>,
    pub(crate) select_only: bool,
    pub(crate) default: Option<Expr>,
    pub(crate) fields: Vec<Ident>,
    /// Per field: written as `|field`, or-ed with the other `|field` writes
    /// of the same field instead of owning it.
    pub(crate) combine: Vec<bool>,
}

/// `const len = 1`: a field every SQE of the op carries; `const |field =
/// bit` ors a constant into a field that arguments also write `|field`.
pub(crate) struct Const {
    pub(crate) field: Ident,
    pub(crate) value: Expr,
    pub(crate) combine: bool,
}
