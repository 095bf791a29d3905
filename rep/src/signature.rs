//! repc's class signature (QTRO.md §2.5): a SHA-1 over each type's name and members, types
//! looked up in a table filled in the file's order, so a Qt node accepts exactly the
//! classes repc would generate from the same file.

use std::collections::{BTreeMap, HashMap};

use sha1::{Digest, Sha1};

use crate::model::*;

/// Every class's signature, as the 40 lowercase hex digits Qt sends, by class name.
pub fn signatures(file: &RepFile) -> BTreeMap<String, String> {
    let mut table = Table::default();
    // repc fills its table as it parses; declarations are visited in file order.
    enum Decl<'a> {
        Pod(&'a Pod),
        Enum(&'a Enum),
        Flag(&'a Flag),
        Class(&'a Class),
    }
    let mut decls: Vec<(usize, Decl<'_>)> = Vec::new();
    decls.extend(file.pods.iter().map(|p| (p.line, Decl::Pod(p))));
    decls.extend(file.enums.iter().map(|e| (e.line, Decl::Enum(e))));
    decls.extend(file.flags.iter().map(|f| (f.line, Decl::Flag(f))));
    decls.extend(file.classes.iter().map(|c| (c.line, Decl::Class(c))));
    decls.sort_by_key(|(line, _)| *line);
    let mut out = BTreeMap::new();
    for (_, decl) in decls {
        match decl {
            Decl::Pod(pod) => table.pod(pod),
            Decl::Enum(e) => table.enumeration(e, ""),
            Decl::Flag(f) => table.flag(f, ""),
            Decl::Class(class) => {
                let signature = table.class(class);
                out.insert(class.name.clone(), signature);
            }
        }
    }
    out
}

#[derive(Default)]
struct Table {
    /// Signatures of the types seen so far (as hex text, which is what repc hashes).
    types: HashMap<String, Vec<u8>>,
}

fn hex(digest: &[u8]) -> Vec<u8> {
    digest
        .iter()
        .flat_map(|b| format!("{b:02x}").into_bytes())
        .collect()
}

fn scoped(scope: &str, name: &str) -> String {
    match scope {
        "" => name.to_owned(),
        scope => format!("{scope}::{name}"),
    }
}

impl Table {
    /// The bytes a type contributes: a known type's signature, else its name.
    fn type_data(&self, ty: &str, scope: &str) -> Vec<u8> {
        if ty.contains('<') {
            return ty
                .split(|c: char| c == '<' || c == '>' || c == ',' || c.is_whitespace())
                .filter(|part| !part.is_empty())
                .flat_map(|part| self.type_data(part, scope))
                .collect();
        }
        if !scope.is_empty() {
            if let Some(sig) = self.types.get(&scoped(scope, ty)) {
                return sig.clone();
            }
        }
        if let Some(sig) = self.types.get(ty) {
            return sig.clone();
        }
        match ty.rfind("::") {
            Some(pos) if pos > 0 => self.type_data(&ty[pos + 2..], scope),
            _ => ty.bytes().collect(),
        }
    }

    fn enumeration(&mut self, e: &Enum, scope: &str) {
        let mut h = Sha1::new();
        h.update(e.name.as_bytes());
        if e.scoped {
            h.update(b"class");
        }
        if let Some(underlying) = &e.underlying {
            h.update(underlying.as_bytes());
        }
        for (key, value) in &e.values {
            h.update(key.as_bytes());
            h.update(value.to_string().as_bytes());
        }
        self.types
            .insert(scoped(scope, &e.name), hex(&h.finalize()));
    }

    fn flag(&mut self, f: &Flag, scope: &str) {
        let mut h = Sha1::new();
        h.update(f.name.as_bytes());
        h.update(self.type_data(&f.enum_name, scope));
        self.types
            .insert(scoped(scope, &f.name), hex(&h.finalize()));
    }

    fn pod(&mut self, pod: &Pod) {
        for e in &pod.enums {
            self.enumeration(e, &pod.name);
        }
        for f in &pod.flags {
            self.flag(f, &pod.name);
        }
        let mut h = Sha1::new();
        h.update(pod.name.as_bytes());
        for member in &pod.members {
            h.update(member.name.as_bytes());
            h.update(self.type_data(&member.ty, &pod.name));
        }
        self.types.insert(pod.name.clone(), hex(&h.finalize()));
    }

    fn functions(&self, h: &mut Sha1, functions: &[Function], class: &str) {
        for f in functions {
            h.update(f.name.as_bytes());
            for p in &f.params {
                h.update(p.name.as_bytes());
                h.update(self.type_data(&p.ty, class));
                let flags = i32::from(p.is_const) | (i32::from(p.is_ref) << 1);
                h.update(flags.to_le_bytes());
            }
            h.update(self.type_data(&f.ret, class));
        }
    }

    fn class(&mut self, class: &Class) -> String {
        for e in &class.enums {
            self.enumeration(e, &class.name);
        }
        for f in &class.flags {
            self.flag(f, &class.name);
        }
        let mut h = Sha1::new();
        h.update(class.name.as_bytes());
        for member in &class.members {
            h.update(member.name().as_bytes());
            let modifier: i32 = match member {
                ClassMember::Property(p) => {
                    h.update(self.type_data(&p.ty, &class.name));
                    match p.access {
                        Access::Constant => 0,
                        Access::ReadOnly | Access::SourceOnlySetter => 1,
                        Access::ReadPush => 2,
                        Access::ReadWrite => 3,
                    }
                }
                ClassMember::Model(model) => {
                    let mut roles = model.roles.clone();
                    roles.sort();
                    let key = scoped(&class.name, &model.name);
                    // A model's signature is the SHA-1 of its sorted role names.
                    let data = hex(&Sha1::digest(roles.join("_").as_bytes()));
                    h.update(&data);
                    self.types.insert(key, data);
                    1
                }
                ClassMember::Child { class: child, .. } => {
                    h.update(self.type_data(child, ""));
                    1
                }
            };
            h.update(modifier.to_le_bytes());
        }
        self.functions(&mut h, &class.signals, &class.name);
        self.functions(&mut h, &class.slots, &class.name);
        let signature = hex(&h.finalize());
        self.types.insert(class.name.clone(), signature.clone());
        String::from_utf8(signature).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repc_signatures_are_reproduced() {
        let demo = crate::parse(include_str!("../tests/demo.rep")).unwrap();
        assert_eq!(
            signatures(&demo)["Demo"],
            "adfb81bfa2d19511208c1f86b89f65b0eb602f0e"
        );
        let sub = crate::parse(include_str!("../tests/sub.rep")).unwrap();
        let sigs = signatures(&sub);
        assert!(sigs["Child"].starts_with("c47bdf70"), "{}", sigs["Child"]);
        assert_eq!(sigs["Parent"], "0c5b2b7656fa498175039230766a3926277be7ef");
    }

    #[test]
    fn what_repc_hashes_changes_the_signature_and_what_it_does_not_does_not() {
        let sig = |text: &str| signatures(&crate::parse(text).unwrap())["A"].clone();
        let base = sig("class A { PROP(int x=1) SLOT(int f(int a)) }");
        assert_ne!(base, sig("class A { PROP(int y=1) SLOT(int f(int a)) }"));
        assert_ne!(base, sig("class A { PROP(qint32 x=1) SLOT(int f(int a)) }"));
        assert_ne!(
            base,
            sig("class A { PROP(int x=1 READWRITE) SLOT(int f(int a)) }")
        );
        assert_ne!(
            base,
            sig("class A { PROP(int x=1) SLOT(int f(const int &a)) }")
        );
        assert_ne!(base, sig("class A { PROP(int x=1) SLOT(int f(int b)) }"));
        assert_eq!(
            base,
            sig("class A { PROP(int x=2 PERSISTED) SLOT(int f(int a)) }")
        );
        assert_eq!(
            base,
            sig("// a comment\nclass A { PROP(int x) SLOT(int f(int a)); };")
        );
    }
}
