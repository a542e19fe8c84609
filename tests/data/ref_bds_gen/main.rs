// The harness of gen.sh: runs the reference wallet's own XmssBdsState
// code (ref_bds.rs, extracted by gen.sh) with the hashes of libtzcore
// (shim.c), and prints the state of address 0 of the fixture after each
// marked number of keys, in the reference's serde field order.
#![allow(dead_code)]
type F = [u8; 32];
const ZERO: F = [0u8; 32];
const AUTH_DEPTH: usize = 16;
extern "C" {
    fn gen_keys(sk: *const u8, j: u32, ask: *mut u8, ps: *mut u8);
    fn gen_leaf(out: *mut u8, ask: *const u8, ps: *const u8, idx: u32);
    fn gen_node(out: *mut u8, ps: *const u8, level: u32, node_idx: u32, l: *const u8, r: *const u8);
}
fn auth_leaf_hash_with_pub_seed(ask_j: &F, pub_seed: &F, idx: u32) -> F {
    let mut o = ZERO; unsafe { gen_leaf(o.as_mut_ptr(), ask_j.as_ptr(), pub_seed.as_ptr(), idx) }; o
}
fn xmss_tree_node_hash(pub_seed: &F, level: u32, node_idx: u32, l: &F, r: &F) -> F {
    let mut o = ZERO; unsafe { gen_node(o.as_mut_ptr(), pub_seed.as_ptr(), level, node_idx, l.as_ptr(), r.as_ptr()) }; o
}
include!("ref_bds.rs");

fn hx(f: &F) -> String { f.iter().map(|b| format!("{:02x}", b)).collect() }
fn slot(s: &FeltSlot) -> String { format!("{{\"present\":{},\"value\":\"{}\"}}", s.present, hx(&s.value)) }
fn js(s: &XmssBdsState) -> String {
    let ap: Vec<String> = s.auth_path.iter().map(|f| format!("\"{}\"", hx(f))).collect();
    let kp: Vec<String> = s.keep.iter().map(slot).collect();
    let th: Vec<String> = s.treehash.iter().map(|t| {
        let st: Vec<String> = t.stack.iter().map(|n| format!("{{\"start_idx\":{},\"height\":{},\"value\":\"{}\"}}", n.start_idx, n.height, hx(&n.value))).collect();
        format!("{{\"target_height\":{},\"start_idx\":{},\"next_idx\":{},\"initialized\":{},\"finished\":{},\"node\":{},\"node_start_idx\":{},\"node_height\":{},\"stack\":[{}]}}",
            t.target_height, t.start_idx, t.next_idx, t.initialized, t.finished, slot(&t.node), t.node_start_idx, t.node_height, st.join(","))
    }).collect();
    let rt: Vec<String> = s.retain.iter().map(|r| {
        let n: Vec<String> = r.nodes.iter().map(|f| format!("\"{}\"", hx(f))).collect();
        format!("{{\"nodes\":[{}],\"next\":{}}}", n.join(","), r.next)
    }).collect();
    format!("{{\"next_index\":{},\"auth_path\":[{}],\"keep\":[{}],\"treehash\":[{}],\"retain\":[{}]}}",
        s.next_index, ap.join(","), kp.join(","), th.join(","), rt.join(","))
}
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut sk = ZERO; sk[0] = 0x42; // the fixture's master_sk
    let (mut ask, mut ps) = (ZERO, ZERO);
    unsafe { gen_keys(sk.as_ptr(), 0, ask.as_mut_ptr(), ps.as_mut_ptr()) };
    let (mut s, root) = XmssBdsState::new_with_params(&ask, &ps, 16, 2).unwrap();
    eprintln!("root {}", hx(&root));
    let marks: Vec<u32> = args[1].split(',').map(|x| x.parse().unwrap()).collect();
    println!("{}", js(&s));
    let last = *marks.iter().max().unwrap();
    for n in 1..=last {
        s.advance(&ask, &ps).unwrap();
        if marks.contains(&n) { println!("{}", js(&s)); }
    }
}
