//! The API signature: a stable hash of the wire name and every member's name, types, order
//! and flags. Types are hashed as written (whitespace removed), so renaming a type or
//! changing a member changes the signature, and nothing else does.

use quote::ToTokens;

use crate::parse::ApiDef;

pub fn signature(def: &ApiDef) -> u64 {
    fnv1a(canonical(def).as_bytes())
}

fn ty(t: &impl ToTokens) -> String {
    t.to_token_stream().to_string().split_whitespace().collect()
}

fn canonical(def: &ApiDef) -> String {
    let mut s = format!("api {};", def.wire_name());
    for p in &def.props {
        let persisted = if p.persisted { ":persisted" } else { "" };
        let push = if p.push { ":push" } else { "" };
        s += &format!(
            "prop {}:{}:{}{persisted}{push};",
            p.name,
            ty(&p.ty),
            p.access.flag()
        );
    }
    for (kind, methods) in [("signal", &def.signals), ("slot", &def.slots)] {
        for m in methods {
            let args: Vec<String> = m
                .args
                .iter()
                .map(|a| format!("{}:{}", a.name, ty(&a.ty)))
                .collect();
            let ret = m.ret.as_ref().map_or_else(|| "()".to_owned(), ty);
            s += &format!("{kind} {}({})->{};", m.name, args.join(","), ret);
        }
    }
    for c in &def.children {
        if let Some(row) = &c.model {
            let kind = c.form.keyword();
            s += &format!("{kind} {}:{};", c.name, ty(row));
            continue;
        }
        let optional = if c.optional { "?" } else { "" };
        s += &format!("child {}:{}{optional};", c.name, ty(&c.api));
    }
    s
}

/// 64-bit FNV-1a: simple, stable across Rust versions and platforms.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
