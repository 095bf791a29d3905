//! A dynamic replica over a real socket against every shape of type: the source's typed
//! values arrive as the right `Value`s, and `Value`s built from JSON reach the source's typed
//! handler and come back.

mod support;

use std::collections::BTreeMap;

use actix::prelude::*;
use actix_remote_objects::dynamic::{DynamicEvent, Value};
use actix_remote_objects::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use support::*;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub enum Shape {
    #[default]
    Empty,
    Circle(f32),
    Segment(Point, Point),
    Box {
        corner: Point,
        size: (u16, u16),
    },
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Meters(pub u32);

remote_object! {
    pub Drawing {
        prop flag: bool;
        prop wide: i128;
        prop letter: char = 'a';
        prop blob: serde_bytes::ByteBuf;
        prop maybe: Option<u64>;
        prop list: Vec<i32>;
        prop table: BTreeMap<String, u16>;
        prop pair: (u8, String);
        prop triple: [u8; 3];
        prop distance: Meters;
        prop shape: Shape, read_write;
        signal drawn(shape: Shape, at: Point);
        slot scale(shape: Shape, by: f64) -> Shape;
    }
}

struct DrawingService(drawing::SimpleSource);

impl Actor for DrawingService {
    type Context = Context<Self>;
}

impl RemoteSource for DrawingService {
    type Api = Drawing;
    fn simple_source(&self) -> &drawing::SimpleSource {
        &self.0
    }
}

impl Handler<drawing::Scale> for DrawingService {
    type Result = SlotResult<Shape>;
    fn handle(&mut self, msg: drawing::Scale, _: &mut Context<Self>) -> SlotResult<Shape> {
        let scaled = match msg.shape {
            Shape::Circle(r) => Shape::Circle(r * msg.by as f32),
            Shape::Box {
                corner,
                size: (w, h),
            } => Shape::Box {
                corner,
                size: (
                    (f64::from(w) * msg.by) as u16,
                    (f64::from(h) * msg.by) as u16,
                ),
            },
            other => other,
        };
        self.0.emit_drawn(
            scaled.clone(),
            Point {
                x: 1.0,
                y: 2.0,
                label: Some("here".into()),
            },
        )?;
        Ok(scaled)
    }
}

#[actix::test]
async fn every_shape_both_ways_through_a_dynamic_replica() {
    let _guard = init();
    let source = drawing::SimpleSource::default();
    source.set_flag(true).unwrap();
    source.set_wide(-(1i128 << 100)).unwrap();
    source.set_letter('Ω').unwrap();
    source
        .set_blob(serde_bytes::ByteBuf::from(vec![1, 2, 255]))
        .unwrap();
    source.set_maybe(Some(7)).unwrap();
    source.set_list(vec![-1, 0, 1]).unwrap();
    source
        .set_table(BTreeMap::from([("k".to_string(), 9)]))
        .unwrap();
    source.set_pair((4, "four".into())).unwrap();
    source.set_triple([7, 8, 9]).unwrap();
    source.set_distance(Meters(42)).unwrap();
    source.set_shape(Shape::Circle(1.5)).unwrap();
    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    host.enable_remoting(DrawingService(source.clone()))
        .await
        .unwrap();
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let replica = node.acquire_dynamic("Drawing");
    replica.wait_for_source(TIMEOUT).await.unwrap();

    // Typed → dynamic, every shape.
    let all: serde_json::Map<String, serde_json::Value> = replica
        .properties()
        .unwrap()
        .into_iter()
        .map(|(k, v)| (k, v.to_json()))
        .collect();
    assert_eq!(
        serde_json::Value::Object(all),
        json!({
            "flag": true, "wide": (-(1i128 << 100)).to_string(), "letter": "Ω", "blob": [1, 2, 255],
            "maybe": 7, "list": [-1, 0, 1], "table": {"k": 9}, "pair": [4, "four"], "triple": [7, 8, 9],
            "distance": 42, "shape": {"Circle": 1.5}
        })
    );

    // Dynamic → typed → dynamic: a struct variant with a nested struct and a tuple.
    let schema = replica.schema().unwrap();
    let (_, scale) = schema.slot("scale").unwrap();
    let shape = json!({"Box": {"corner": {"x": 0.5, "y": -1.0, "label": null}, "size": [10, 20]}});
    let arg = Value::from_json(&shape, &scale.args[0].format, &schema.types).unwrap();
    let mut events = replica.events();
    let scaled = replica
        .call("scale", vec![arg, Value::Float(2.0)])
        .await
        .unwrap();
    assert_eq!(
        scaled.to_json(),
        json!({"Box": {"corner": {"x": 0.5, "y": -1.0, "label": null}, "size": [20, 40]}})
    );
    match next(&mut events).await {
        DynamicEvent::Signal { name, args } => {
            assert_eq!(name, "drawn");
            assert_eq!(
                args[1].1.to_json(),
                json!({"x": 1.0, "y": 2.0, "label": "here"})
            );
        }
        other => panic!("unexpected {other:?}"),
    }

    // A read-write property of an enum type set from JSON reaches the typed source.
    let (_, prop) = schema.property("shape").unwrap();
    let segment = json!({"Segment": [{"x": 0.0, "y": 0.0, "label": "a"}, {"x": 3.0, "y": 4.0, "label": null}]});
    replica
        .set_property(
            "shape",
            &Value::from_json(&segment, &prop.format, &schema.types).unwrap(),
        )
        .unwrap();
    assert!(
        matches!(next(&mut events).await, DynamicEvent::PropertyChanged { name, .. } if name == "shape")
    );
    assert_eq!(
        source.shape(),
        Shape::Segment(
            Point {
                x: 0.0,
                y: 0.0,
                label: Some("a".into())
            },
            Point {
                x: 3.0,
                y: 4.0,
                label: None
            }
        )
    );
    host.shutdown().await;
}
