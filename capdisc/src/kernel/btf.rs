//! A minimal reader of the kernel's BTF (/sys/kernel/btf/vmlinux): byte offsets of named
//! members of a struct (`struct cred`, so `trace` can read the five capability sets the kernel
//! checked; `task_struct.comm`), and the arity of a function (`cap_capable`, for fexit).
//! Kept rather than aya-obj's parser: aya-obj 0.3 parses vmlinux BTF, but its type and member
//! accessors are crate-private (only `id_by_type_name_kind` is public), so no member offset or
//! prototype can be read through it.
use std::collections::HashMap;

const MAGIC: u16 = 0xeb9f;
const KIND_STRUCT: u32 = 4;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;

/// One type: its kind, name, vlen, where its trailing data starts, its size/type field, and
/// the kind flag (bitfield member offsets).
struct Type {
    kind: u32,
    name: String,
    vlen: usize,
    body: usize,
    size_or_type: u32,
    kind_flag: bool,
}

struct Blob<'a> {
    data: &'a [u8],
    strings: usize,
}

impl<'a> Blob<'a> {
    fn u32_at(&self, at: usize) -> Option<u32> {
        self.data.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn string(&self, offset: u32) -> Option<String> {
        let start = self.strings + offset as usize;
        let end = start + self.data.get(start..)?.iter().position(|b| *b == 0)?;
        std::str::from_utf8(&self.data[start..end]).ok().map(str::to_owned)
    }

    /// Every type in order (type id 1 first).
    fn parse(data: &'a [u8]) -> Option<(Self, Vec<Type>)> {
        if data.get(0..2).map(|b| u16::from_le_bytes([b[0], b[1]])) != Some(MAGIC) {
            return None;
        }
        let mut blob = Blob { data, strings: 0 };
        let header_len = blob.u32_at(4)? as usize;
        let (type_off, type_len, str_off) = (blob.u32_at(8)? as usize, blob.u32_at(12)? as usize, blob.u32_at(16)? as usize);
        blob.strings = header_len + str_off;
        let start = header_len + type_off;
        let mut types = Vec::new();
        let mut at = start;
        while at + 12 <= start + type_len {
            let (name_off, info, size_or_type) = (blob.u32_at(at)?, blob.u32_at(at + 4)?, blob.u32_at(at + 8)?);
            let kind = (info >> 24) & 0x1f;
            let vlen = (info & 0xffff) as usize;
            types.push(Type {
                kind,
                name: blob.string(name_off).unwrap_or_default(),
                vlen,
                body: at + 12,
                size_or_type,
                kind_flag: info >> 31 == 1,
            });
            at += 12 + extra_len(kind, vlen)?;
        }
        Some((blob, types))
    }
}

/// Bytes that follow `struct btf_type` for each kind (include/uapi/linux/btf.h).
fn extra_len(kind: u32, vlen: usize) -> Option<usize> {
    Some(match kind {
        1 | 14 | 17 => 4,             // INT, VAR, DECL_TAG
        3 => 12,                      // ARRAY
        4 | 5 | 15 | 19 => vlen * 12, // STRUCT, UNION, DATASEC, ENUM64
        6 | 13 => vlen * 8,           // ENUM, FUNC_PROTO
        2 | 7..=12 | 16 | 18 => 0,    // PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC, FLOAT, TYPE_TAG
        _ => return None,
    })
}

/// Member name -> byte offset, for the first struct called `name`.
pub fn struct_members(data: &[u8], name: &str) -> Option<HashMap<String, u32>> {
    let (blob, types) = Blob::parse(data)?;
    let found = types.iter().find(|t| t.kind == KIND_STRUCT && t.name == name)?;
    let mut members = HashMap::new();
    for index in 0..found.vlen {
        let member = found.body + index * 12;
        let bits = blob.u32_at(member + 8)?;
        let bit_offset = if found.kind_flag { bits & 0x00ff_ffff } else { bits };
        if let Some(member_name) = blob.string(blob.u32_at(member)?) {
            members.insert(member_name, bit_offset / 8);
        }
    }
    Some(members)
}

/// Number of parameters of the kernel function `name`, from its BTF prototype.
pub fn function_arity(data: &[u8], name: &str) -> Option<usize> {
    let (_, types) = Blob::parse(data)?;
    let function = types.iter().find(|t| t.kind == KIND_FUNC && t.name == name)?;
    let proto = types.get((function.size_or_type as usize).checked_sub(1)?)?;
    (proto.kind == KIND_FUNC_PROTO).then_some(proto.vlen)
}

fn kernel_btf() -> Option<Vec<u8>> {
    std::fs::read("/sys/kernel/btf/vmlinux").ok()
}

/// What capdisc's kernel programs need to know about this kernel's layout, read from its BTF
/// once at start-up.
#[derive(Clone, Copy, Debug, Default)]
pub struct KernelLayout {
    /// Offsets in `struct cred` of euid and the inheritable, permitted, effective, bounding and
    /// ambient sets.
    pub cred: Option<[u32; 6]>,
    /// Offset of `comm` in `struct task_struct`.
    pub task_comm: Option<u32>,
    /// Parameters of `cap_capable` (the fexit program reads the return value after 4).
    pub cap_capable_arity: Option<usize>,
    /// Offsets of `task_struct.pid` and `linux_binprm.filename` (the raw task-tracking programs).
    pub task_pid: Option<u32>,
    pub bprm_filename: Option<u32>,
    /// Offsets of `task_struct.cred` and `cred.uid` (the key's uid by direct loads).
    pub task_cred: Option<u32>,
    pub cred_uid: Option<u32>,
    /// What an exec's gain is judged from (the sandbox's setuid evidence).
    pub exec_gain: Option<ExecGainLayout>,
}

/// Offsets of `linux_binprm.file`, `file.f_inode`, `inode.i_mode`, `i_uid`, `i_gid`,
/// `task_struct.atomic_flags` and `cred.egid`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExecGainLayout {
    pub bprm_file: u32,
    pub file_inode: u32,
    pub inode_mode: u32,
    pub inode_uid: u32,
    pub inode_gid: u32,
    pub task_atomic_flags: u32,
    pub cred_egid: u32,
}

impl KernelLayout {
    pub fn read() -> Self {
        let Some(data) = kernel_btf() else { return Self::default() };
        let cred = struct_members(&data, "cred").and_then(|members| {
            let get = |name: &str| members.get(name).copied();
            Some([
                get("euid")?,
                get("cap_inheritable")?,
                get("cap_permitted")?,
                get("cap_effective")?,
                get("cap_bset")?,
                get("cap_ambient")?,
            ])
        });
        let task = struct_members(&data, "task_struct");
        Self {
            cred,
            task_comm: task.as_ref().and_then(|members| members.get("comm").copied()),
            cap_capable_arity: function_arity(&data, "cap_capable"),
            task_pid: task.as_ref().and_then(|members| members.get("pid").copied()),
            bprm_filename: struct_members(&data, "linux_binprm").and_then(|members| members.get("filename").copied()),
            task_cred: task.as_ref().and_then(|members| members.get("cred").copied()),
            cred_uid: struct_members(&data, "cred").and_then(|members| members.get("uid").copied()),
            exec_gain: exec_gain(&data, task.as_ref()),
        }
    }
}

fn exec_gain(data: &[u8], task: Option<&HashMap<String, u32>>) -> Option<ExecGainLayout> {
    let member = |name: &str, field: &str| struct_members(data, name).and_then(|members| members.get(field).copied());
    let inode = struct_members(data, "inode")?;
    Some(ExecGainLayout {
        bprm_file: member("linux_binprm", "file")?,
        file_inode: member("file", "f_inode")?,
        inode_mode: *inode.get("i_mode")?,
        inode_uid: *inode.get("i_uid")?,
        inode_gid: *inode.get("i_gid")?,
        task_atomic_flags: *task?.get("atomic_flags")?,
        cred_egid: member("cred", "egid")?,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_function_prototypes() {
        let data = super::kernel_btf().expect("kernel BTF");
        assert_eq!(super::function_arity(&data, "cap_capable"), Some(4));
        assert_eq!(super::function_arity(&data, "no_such_function_capdisc"), None);
    }

    #[test]
    fn finds_cred_in_the_running_kernel() {
        // Every kernel capdisc supports has BTF; the sets follow euid in struct cred.
        let layout = super::KernelLayout::read();
        let [euid, inh, prm, eff, bnd, amb] = layout.cred.expect("struct cred in /sys/kernel/btf/vmlinux");
        assert!(euid < inh && inh < prm && prm < eff && eff < bnd && bnd < amb, "{euid} {inh} {prm} {eff} {bnd} {amb}");
        assert_eq!((prm - inh, eff - prm, bnd - eff, amb - bnd), (8, 8, 8, 8), "kernel_cap_t is 64 bits");
        assert!(layout.task_comm.is_some_and(|offset| offset > 0));
        assert!(layout.task_pid.is_some_and(|offset| offset > 0));
        assert!(layout.bprm_filename.is_some_and(|offset| offset > 0));
        assert!(layout.task_cred.is_some_and(|offset| offset > 0));
        assert!(layout.cred_uid.is_some_and(|offset| offset > 0));
        let gain = layout.exec_gain.expect("the exec-gain offsets");
        assert!(gain.inode_uid > gain.inode_mode && gain.inode_gid > gain.inode_uid, "{gain:?}");
        assert_eq!(layout.cap_capable_arity, Some(4));
    }
}
