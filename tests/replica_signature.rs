//! Signature mismatch (contract item 6): a replica whose API differs from the source's in
//! any way goes to `SignatureMismatch`, never applies that source's values, and says which
//! API and which signatures. The state is final.

mod support;

use actix_remote_objects::prelude::*;
use actix_remote_objects::RemoteObject;
use support::*;

/// Variants of the test printer's API, each served under its wire name `Printer`.
mod added_property {
    use super::Status;
    actix_remote_objects::remote_object! {
        pub Printer {
            prop ink_level: u8 = 100, read_only;
            prop status: Status = Status::Idle;
            prop name: String = "office".to_string(), read_write;
            prop model: String = "LaserJet".to_string(), constant;
            prop tray_count: u8;
            signal paper_jam(tray: u32);
            slot print(doc: String) -> u32;
            slot fail(reason: String) -> u32;
            slot hold() -> u32;
            slot jam(tray: u32);
            slot refill(level: u8) -> u8;
        }
    }
}

mod changed_type {
    use super::Status;
    actix_remote_objects::remote_object! {
        pub Printer {
            prop ink_level: u16 = 100, read_only;
            prop status: Status = Status::Idle;
            prop name: String = "office".to_string(), read_write;
            prop model: String = "LaserJet".to_string(), constant;
            signal paper_jam(tray: u32);
            slot print(doc: String) -> u32;
            slot fail(reason: String) -> u32;
            slot hold() -> u32;
            slot jam(tray: u32);
            slot refill(level: u8) -> u8;
        }
    }
}

mod reordered {
    use super::Status;
    actix_remote_objects::remote_object! {
        pub Printer {
            prop status: Status = Status::Idle;
            prop ink_level: u8 = 100, read_only;
            prop name: String = "office".to_string(), read_write;
            prop model: String = "LaserJet".to_string(), constant;
            signal paper_jam(tray: u32);
            slot print(doc: String) -> u32;
            slot fail(reason: String) -> u32;
            slot hold() -> u32;
            slot jam(tray: u32);
            slot refill(level: u8) -> u8;
        }
    }
}

mod changed_return {
    use super::Status;
    actix_remote_objects::remote_object! {
        pub Printer {
            prop ink_level: u8 = 100, read_only;
            prop status: Status = Status::Idle;
            prop name: String = "office".to_string(), read_write;
            prop model: String = "LaserJet".to_string(), constant;
            signal paper_jam(tray: u32);
            slot print(doc: String) -> u64;
            slot fail(reason: String) -> u32;
            slot hold() -> u32;
            slot jam(tray: u32);
            slot refill(level: u8) -> u8;
        }
    }
}

mod changed_flag {
    use super::Status;
    actix_remote_objects::remote_object! {
        pub Printer {
            prop ink_level: u8 = 100, read_write;
            prop status: Status = Status::Idle;
            prop name: String = "office".to_string(), read_write;
            prop model: String = "LaserJet".to_string(), constant;
            signal paper_jam(tray: u32);
            slot print(doc: String) -> u32;
            slot fail(reason: String) -> u32;
            slot hold() -> u32;
            slot jam(tray: u32);
            slot refill(level: u8) -> u8;
        }
    }
}

/// Acquires `A` from a host serving the test printer with non-default values; the replica
/// must end in `SignatureMismatch` still showing its own defaults.
async fn expect_mismatch<A: RemoteObject>(host_url: &str) {
    let node = Node::connect(host_url).await.unwrap();
    let replica = node.acquire::<A>();
    let (to, mut states) = collector::<StateChanged>();
    replica.subscribe_state(to);
    let error = replica.wait_for_source(TIMEOUT).await.unwrap_err();
    assert!(error.is_signature_mismatch(), "{error}");
    let text = error.to_string();
    assert!(text.contains("\"Printer\""), "names the API: {text}");
    assert!(
        text.contains(&format!("{:#018x}", A::signature())),
        "names ours: {text}"
    );
    assert!(
        text.contains(&format!("{:#018x}", Printer::signature())),
        "names the source's: {text}"
    );
    assert_eq!(replica.state(), ReplicaState::SignatureMismatch);
    let defaults = format!("{:?}", A::Properties::default());
    assert_eq!(
        format!("{:?}", replica.properties()),
        defaults,
        "no value of the source was applied"
    );
    assert_eq!(next(&mut states).await.new, ReplicaState::SignatureMismatch);
}

async fn host_with_values() -> Host {
    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    let service = PrinterService::new();
    service.remote.set_ink_level(3).unwrap();
    service.remote.set_name("elsewhere".into()).unwrap();
    host.enable_remoting(service).await.unwrap();
    host
}

macro_rules! mismatch_test {
    ($name:ident, $module:ident) => {
        #[actix::test]
        async fn $name() {
            let _guard = init();
            assert_ne!($module::Printer::SIGNATURE, Printer::SIGNATURE);
            assert_ne!($module::Printer::signature(), Printer::signature());
            let host = host_with_values().await;
            expect_mismatch::<$module::Printer>(host.url().unwrap()).await;
            host.shutdown().await;
        }
    };
}

mismatch_test!(a_property_added, added_property);
mismatch_test!(a_property_type_changed, changed_type);
mismatch_test!(members_reordered, reordered);
mismatch_test!(a_slot_return_type_changed, changed_return);
mismatch_test!(an_access_flag_changed, changed_flag);

#[actix::test]
async fn the_same_definition_has_the_same_signature_and_docs_do_not_matter() {
    mod documented {
        use super::Status;
        actix_remote_objects::remote_object! {
            /// Documented differently.
            pub Printer {
                /// Ink.
                prop ink_level: u8 = 100, read_only;
                prop status: Status = Status::Idle;
                prop name: String = "office".to_string(), read_write;
                prop model: String = "LaserJet".to_string(), constant;
                signal paper_jam(tray: u32);
                slot print(doc: String) -> u32;
                slot fail(reason: String) -> u32;
                slot hold() -> u32;
                slot jam(tray: u32);
                slot refill(level: u8) -> u8;
            }
        }
    }
    assert_eq!(documented::Printer::SIGNATURE, Printer::SIGNATURE);
    assert_eq!(documented::Printer::signature(), Printer::signature());
}

#[actix::test]
async fn signature_mismatch_is_final() {
    let _guard = init();
    let host = host_with_values().await;
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let replica = node.acquire::<changed_type::Printer>();
    let (to, mut states) = collector::<StateChanged>();
    replica.subscribe_state(to);
    assert!(replica
        .wait_for_source(TIMEOUT)
        .await
        .unwrap_err()
        .is_signature_mismatch());
    assert_eq!(next(&mut states).await.new, ReplicaState::SignatureMismatch);

    // The source goes away and comes back: nothing changes for this replica.
    host.disable_remoting("Printer").await.unwrap();
    host.enable_remoting(PrinterService::new()).await.unwrap();
    // A well-matched replica on the same node initializing proves the re-offer was processed.
    let matched = node.acquire_named::<Printer>("Printer2");
    host.enable_remoting_as(PrinterService::new(), "Printer2")
        .await
        .unwrap();
    matched.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(replica.state(), ReplicaState::SignatureMismatch);
    assert!(futures::FutureExt::now_or_never(futures::StreamExt::next(&mut states)).is_none());
    // And wait_for_source answers at once.
    assert!(replica
        .wait_for_source(std::time::Duration::ZERO)
        .await
        .unwrap_err()
        .is_signature_mismatch());
    host.shutdown().await;
}
