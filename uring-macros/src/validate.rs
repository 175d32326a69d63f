//! Checks a parsed table against the kernel's SQE and the rules of the
//! typestate, and turns each entry into a plan of SQE writes.
//!
//! Every problem is reported, each at the token that causes it.

use crate::model::{Entry, Opcode, Table};
use crate::parse::parse_version;
use crate::sqe::{self, Field, Member, OPCODES, RESERVED, Slot};
use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{GenericParam, Ident};

/// How an op names the file it acts on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum TargetKind {
    /// No file (`NOP`, `TIMEOUT`).
    None,
    /// A raw descriptor only.
    Fd,
    /// A raw descriptor or a fixed file through `IOSQE_FIXED_FILE`.
    FdOrFixed,
    /// A raw descriptor in `fd`, or a fixed file as `file_index = index + 1`.
    FdOrFixedIndex,
    /// A fixed file only, with `IOSQE_FIXED_FILE`.
    Fixed,
}

/// Where the value written to a field comes from.
#[derive(Clone, Copy)]
pub(crate) enum Source {
    /// Part `part` of `parts` of argument `index`.
    Arg {
        index: usize,
        part: usize,
        parts: usize,
    },
    /// The address of the ring-owned copy of argument `index`.
    RingOwned(usize),
    /// Constant field number `index`.
    Const(usize),
    /// The target's descriptor or index.
    TargetFd,
    /// The target's fixed index + 1 (`fd | fixed(file_index)`).
    TargetFileIndex,
    /// Address, length and group of a buffer-or-selection argument.
    SelectAddr,
    SelectLen,
    SelectGroup,
}

/// One field write of an op's SQE.
pub(crate) struct Write {
    pub(crate) field: &'static Field,
    pub(crate) source: Source,
}

/// An entry that passed every check, with its SQE plan.
pub(crate) struct Checked<'a> {
    pub(crate) entry: &'a Entry,
    pub(crate) target: TargetKind,
    /// The op takes ownership of a raw descriptor (`target: owned ..`).
    pub(crate) owned: bool,
    pub(crate) writes: Vec<Write>,
    /// Index of the `| select` argument, if any.
    pub(crate) select: Option<usize>,
}

/// Fields every generated op has; no argument can take their names.
const TAKEN_FIELDS: &[&str] = &["target", "common", "_borrows"];

/// Methods every generated op has; an optional argument, whose setter is a
/// method of the same name, cannot take them.
const TAKEN_METHODS: &[&str] = &[
    "new",
    "user_data",
    "flags",
    "personality",
    "link",
    "hard_link",
    "timeout",
    "timeout_with",
    "link_timeout",
];

pub(crate) fn check(table: &Table) -> syn::Result<Vec<Checked<'_>>> {
    let mut errors = Errors::default();
    let mut checked = Vec::new();
    let mut names: Vec<&Ident> = Vec::new();
    for entry in &table.entries {
        note_name(&mut errors, &mut names, &entry.name, "op", " in this table");
        if let Some(plan) = check_entry(entry, &mut errors) {
            checked.push(plan);
        }
    }
    errors.finish().map(|()| checked)
}

/// Records `name` among `seen`, reporting it (and its first use) if it is
/// there already.
fn note_name<'a>(
    errors: &mut Errors,
    seen: &mut Vec<&'a Ident>,
    name: &'a Ident,
    what: &str,
    place: &str,
) {
    if let Some(first) = seen.iter().find(|n| **n == name) {
        errors.push(
            name.span(),
            format!("{what} `{name}` is declared twice{place}"),
        );
        errors.push(first.span(), "first declared here".to_string());
    }
    seen.push(name);
}

#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, span: Span, message: String) {
        let error = syn::Error::new(span, message);
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// Fields claimed so far in one entry, with who claimed them.
struct Claims {
    /// Each claimed field, where, by whom, and whether it is or-combined.
    taken: Vec<(&'static Field, Span, String, bool)>,
    writes: Vec<Write>,
}

impl Claims {
    fn claim(&mut self, errors: &mut Errors, field: &Ident, owner: String, source: Source) {
        self.claim_as(errors, field, owner, source, false);
    }

    /// Claims `field`; a `combine` claim shares the field with the other
    /// `combine` claims of it, their values or-ed together.
    fn claim_as(
        &mut self,
        errors: &mut Errors,
        field: &Ident,
        owner: String,
        source: Source,
        combine: bool,
    ) {
        let name = field.to_string();
        if let Some((_, why)) = RESERVED.iter().find(|(n, _)| *n == name) {
            errors.push(
                field.span(),
                format!("`{name}` cannot be an op argument: {why}"),
            );
            return;
        }
        let Some(info) = sqe::field(&name) else {
            let hint = match sqe::suggest(&name) {
                Some(s) => format!("; did you mean `{s}`?"),
                None => "; see `struct io_uring_sqe` in linux/io_uring.h".to_string(),
            };
            errors.push(field.span(), format!("unknown SQE field `{name}`{hint}"));
            return;
        };
        for (other, _, other_owner, other_combines) in &self.taken {
            if other.slot != info.slot {
                continue;
            }
            if other.name == info.name {
                if combine && *other_combines {
                    continue;
                }
                let hint = if matches!(info.slot, Slot::OpFlags | Slot::Ioprio) {
                    format!(" (flags that several arguments share are written `|{name}` by each)")
                } else {
                    String::new()
                };
                errors.push(
                    field.span(),
                    format!(
                        "SQE field `{name}` is set twice: by {owner} and by {other_owner}{hint}"
                    ),
                );
                return;
            }
            let disjoint = matches!(
                (other.member, info.member),
                (
                    Member::Nested { member: a, field: fa, .. },
                    Member::Nested { member: b, field: fb, .. },
                ) if a == b && fa != fb
            );
            if !disjoint {
                errors.push(
                    field.span(),
                    format!(
                        "SQE field `{name}` shares its bytes with `{}` (set by {other_owner}); \
                         an SQE can hold only one of them",
                        other.name
                    ),
                );
                return;
            }
        }
        self.taken.push((info, field.span(), owner, combine));
        self.writes.push(Write {
            field: info,
            source,
        });
    }
}

fn check_entry<'a>(entry: &'a Entry, errors: &mut Errors) -> Option<Checked<'a>> {
    let mut local = Errors::default();
    let name = &entry.name;

    if entry.unsafety.is_none() {
        local.push(
            name.span(),
            format!(
                "an op declaration must be written `unsafe struct {name}`: it promises that each \
                 argument lands in the SQE field the kernel reads for this opcode, and that every \
                 field the kernel dereferences is fed from a borrow the op carries"
            ),
        );
    }
    match &entry.since {
        None => local.push(
            name.span(),
            format!("op `{name}` needs the kernel version that added it: `#[since = \"5.6\"]`"),
        ),
        Some(lit) if parse_version(lit).is_none() => local.push(
            lit.span(),
            "expected a kernel version `major.minor`, like \"5.6\"".to_string(),
        ),
        Some(_) => {}
    }
    match &entry.opcode {
        None => local.push(
            name.span(),
            format!(
                "op `{name}` has no opcode: write `struct {name} = OPCODE {{ .. }}` with the \
                 kernel's name (`= NOP`), a number, or a path to a `u8` constant"
            ),
        ),
        Some(Opcode::Kernel(ident)) => {
            let s = ident.to_string();
            if !OPCODES.contains(&s.as_str()) {
                let upper = s.to_ascii_uppercase();
                let near = OPCODES
                    .iter()
                    .map(|o| (sqe::distance(&upper, o), o))
                    .filter(|(d, _)| *d <= 2)
                    .min_by_key(|(d, _)| *d)
                    .map(|(_, o)| o);
                let hint = match near {
                    Some(n) => format!("; did you mean `{n}`?"),
                    None => {
                        format!("; for a `u8` constant of your own, write its path (`self::{s}`)")
                    }
                };
                local.push(
                    ident.span(),
                    format!(
                        "unknown opcode `{s}`: a bare name must be one of the kernel's \
                         `IORING_OP_*` names without the prefix{hint}"
                    ),
                );
            }
        }
        Some(Opcode::Int(lit)) => {
            if lit.base10_parse::<u8>().is_err() {
                local.push(lit.span(), "an opcode is a `u8`".to_string());
            }
        }
        Some(Opcode::Path(_)) => {}
    }
    for param in &entry.generics.params {
        if !matches!(param, GenericParam::Lifetime(_)) {
            local.push(
                param.span(),
                "an op declares only lifetimes; its target and buffer type parameters are \
                 generated from `target:` and `| select`"
                    .to_string(),
            );
        }
    }
    if let Some(clause) = &entry.generics.where_clause {
        local.push(clause.span(), "an op takes no `where` clause".to_string());
    }
    // The generated struct's type parameters are `T` (the target) and `B`
    // (a buffer that may be a selection): a type of the program's named
    // `T` or `B` by itself, in an argument's type or default, would be
    // taken for them.
    for arg in &entry.args {
        let ty = quote::ToTokens::to_token_stream(&arg.ty);
        let default = arg.default.as_ref().map(quote::ToTokens::to_token_stream);
        for tokens in std::iter::once(ty).chain(default) {
            if let Some(ident) = bare_type_parameter(tokens) {
                local.push(
                    ident.span(),
                    format!(
                        "`{ident}` here would name the op's own type parameter `{ident}` (its \
                         {}): write the program's type by its path (`self::{ident}`, \
                         `crate::{ident}`) or give it another name",
                        if ident == "T" { "target" } else { "buffer" }
                    ),
                );
            }
        }
    }

    let mut claims = Claims {
        taken: Vec::new(),
        writes: Vec::new(),
    };
    let mut owned = false;
    let target = match &entry.target {
        None => TargetKind::None,
        Some(t) => {
            let mut fd = false;
            let mut fixed = false;
            for kind in &t.kinds {
                let slot = if kind == "fd" {
                    &mut fd
                } else if kind == "owned" {
                    &mut owned
                } else if kind == "fixed" {
                    &mut fixed
                } else {
                    local.push(
                        kind.span(),
                        format!("unknown target kind `{kind}`; expected `fd`, `owned` or `fixed`"),
                    );
                    continue;
                };
                if std::mem::replace(slot, true) {
                    local.push(kind.span(), format!("target kind `{kind}` is given twice"));
                }
            }
            if (fd && owned) || !(fd || owned || fixed) {
                local.push(
                    t.token.span(),
                    "a target takes a descriptor, borrowed (`fd`) or given up to the op \
                     (`owned`, for ops that close it), and or instead a fixed file: write \
                     `target: fd`, `target: fd | fixed`, `target: owned | fixed` or \
                     `target: fixed`"
                        .to_string(),
                );
            }
            claims.claim(
                &mut local,
                &Ident::new("fd", t.token.span()),
                "the target".to_string(),
                Source::TargetFd,
            );
            match &t.fixed_field {
                Some(field) if !fixed => {
                    local.push(
                        field.span(),
                        "a field for the fixed target needs `fixed` among the kinds".to_string(),
                    );
                    TargetKind::Fd
                }
                Some(field) if field != "file_index" => {
                    local.push(
                        field.span(),
                        "a fixed target can only go to `file_index` (as index + 1)".to_string(),
                    );
                    TargetKind::FdOrFixed
                }
                Some(field) => {
                    // Only CLOSE takes its slot from `file_index`: every
                    // other op reads its file from `fd` alone, and would run
                    // on the descriptor the 0 there names.
                    let close = match &entry.opcode {
                        Some(Opcode::Kernel(ident)) => ident == "CLOSE",
                        Some(Opcode::Int(lit)) => lit.base10_parse::<u8>().is_ok_and(|n| n == 19),
                        _ => false,
                    };
                    if !close {
                        local.push(
                            field.span(),
                            "only `CLOSE` (named `= CLOSE` or `= 19`) takes a fixed target in \
                             `file_index`: other ops read their file from `fd` alone; write \
                             `target: fd | fixed` (the fixed file goes to `fd` with \
                             IOSQE_FIXED_FILE)"
                                .to_string(),
                        );
                    }
                    claims.claim(
                        &mut local,
                        field,
                        "the fixed target".to_string(),
                        Source::TargetFileIndex,
                    );
                    TargetKind::FdOrFixedIndex
                }
                None if fixed && !fd && !owned => TargetKind::Fixed,
                None if fixed => TargetKind::FdOrFixed,
                None => TargetKind::Fd,
            }
        }
    };

    let mut select = None;
    let mut arg_names: Vec<&Ident> = Vec::new();
    // The ring keeps one copy per SQ slot: a second ring-owned argument
    // would get the same address as the first.
    let mut ring_owned_seen = false;
    for (index, arg) in entry.args.iter().enumerate() {
        let owner = format!("argument `{}`", arg.name);
        note_name(&mut local, &mut arg_names, &arg.name, "argument", "");
        if TAKEN_FIELDS.iter().any(|n| arg.name == n) {
            local.push(
                arg.name.span(),
                format!(
                    "`{}` is a field every op already has; rename the argument",
                    arg.name
                ),
            );
        } else if arg.name.to_string().starts_with("__") {
            local.push(
                arg.name.span(),
                format!(
                    "`{}`: names starting with `__` are the generated code's; rename the argument",
                    arg.name
                ),
            );
        } else if arg.default.is_some() && TAKEN_METHODS.iter().any(|n| arg.name == n) {
            local.push(
                arg.name.span(),
                format!(
                    "`{}` is a method every op already has, so it cannot be the setter of an \
                     optional argument; rename the argument",
                    arg.name
                ),
            );
        }
        if let Some(at) = arg.combine.iter().position(|c| *c)
            && (arg.select.is_some() || arg.ring_owned.is_some())
        {
            local.push(
                arg.fields[at].span(),
                "only a plain argument can be or-ed into a field (`|field`)".to_string(),
            );
        }
        if let Some(word) = &arg.select {
            if select.replace(index).is_some() {
                local.push(
                    word.span(),
                    "only one argument may be `| select`".to_string(),
                );
            }
            if let Some(default) = &arg.default {
                local.push(
                    default.span(),
                    "a `| select` buffer is required: it cannot have a default".to_string(),
                );
            }
            if arg.ring_owned.is_some() || arg.into {
                local.push(
                    arg.name.span(),
                    "a `| select` buffer is a plain borrowed buffer type".to_string(),
                );
            }
            let names: Vec<String> = arg.fields.iter().map(|f| f.to_string()).collect();
            if arg.select_only && names == ["buf_group"] {
                // A group alone, where the op's `addr` and `len` say
                // something else (RECVMSG's message header).
                claims.claim(
                    &mut local,
                    &arg.fields[0],
                    format!("the selection of `{}`", arg.name),
                    Source::SelectGroup,
                );
                continue;
            }
            if names != ["addr", "len"] {
                local.push(
                    arg.fields[0].span(),
                    "a `| select` buffer is written as `=> addr + len`: a selection leaves `addr` \
                     zero, puts its length in `len` and its group in `buf_group`"
                        .to_string(),
                );
            } else {
                claims.claim(
                    &mut local,
                    &arg.fields[0],
                    owner.clone(),
                    Source::SelectAddr,
                );
                claims.claim(&mut local, &arg.fields[1], owner.clone(), Source::SelectLen);
                claims.claim(
                    &mut local,
                    &Ident::new("buf_group", word.span()),
                    format!("the selection of `{}`", arg.name),
                    Source::SelectGroup,
                );
            }
            continue;
        }
        if let Some(span) = arg.ring_owned {
            if std::mem::replace(&mut ring_owned_seen, true) {
                local.push(
                    span,
                    "an op has at most one `#[ring_owned]` argument: the ring keeps one copy per \
                     SQ slot; pass the others by reference"
                        .to_string(),
                );
                continue;
            }
            if arg.fields.len() != 1 {
                local.push(
                    span,
                    "a `#[ring_owned]` argument writes its address to exactly one field"
                        .to_string(),
                );
                continue;
            }
            let timespec = match &arg.ty {
                syn::Type::Path(p) => p
                    .path
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == "Timespec"),
                _ => false,
            };
            if !timespec {
                local.push(
                    arg.ty.span(),
                    "a `#[ring_owned]` argument is a `Timespec` (the ring keeps 16 bytes per SQ \
                     slot); pass anything else by reference"
                        .to_string(),
                );
                continue;
            }
            claims.claim(&mut local, &arg.fields[0], owner, Source::RingOwned(index));
            continue;
        }
        if arg.fields.len() > 3 {
            local.push(
                arg.fields[3].span(),
                "an argument fills at most three SQE fields".to_string(),
            );
            continue;
        }
        let parts = arg.fields.len();
        for (part, field) in arg.fields.iter().enumerate() {
            claims.claim_as(
                &mut local,
                field,
                owner.clone(),
                Source::Arg { index, part, parts },
                arg.combine[part],
            );
        }
    }
    for (index, constant) in entry.consts.iter().enumerate() {
        claims.claim_as(
            &mut local,
            &constant.field,
            format!("`const {}`", constant.field),
            Source::Const(index),
            constant.combine,
        );
    }

    // `cmd` is as long as the entry's SQE makes it: 16 bytes, or 80 with
    // `#[sqe128]` (the type it converts to says which; see `expand::sqe`).

    let failed = local.0.is_some();
    if let Some(e) = local.0 {
        match &mut errors.0 {
            Some(all) => all.combine(e),
            None => errors.0 = Some(e),
        }
    }
    if failed {
        return None;
    }
    Some(Checked {
        entry,
        target,
        owned,
        writes: claims.writes,
        select,
    })
}

/// The first `T` or `B` in `tokens` that is a path of one segment (not
/// after `::`), which the generated op's type parameters would capture.
fn bare_type_parameter(tokens: proc_macro2::TokenStream) -> Option<Ident> {
    let mut after_colons = false;
    let mut colons = 0;
    for tree in tokens {
        match tree {
            proc_macro2::TokenTree::Ident(ident) => {
                if !after_colons && (ident == "T" || ident == "B") {
                    return Some(ident);
                }
                after_colons = false;
                colons = 0;
            }
            proc_macro2::TokenTree::Punct(p) if p.as_char() == ':' => {
                colons += 1;
                after_colons = colons >= 2;
            }
            proc_macro2::TokenTree::Group(group) => {
                if let Some(found) = bare_type_parameter(group.stream()) {
                    return Some(found);
                }
                after_colons = false;
                colons = 0;
            }
            _ => {
                after_colons = false;
                colons = 0;
            }
        }
    }
    None
}
