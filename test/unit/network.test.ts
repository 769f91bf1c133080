import assert from "node:assert/strict";
import { test } from "node:test";
import { addressAt, isIpv4, overlaps, parseCidr, subnetAt } from "../../components/network";

test("IPv4 addresses and CIDRs are read strictly", () => {
    assert.ok(isIpv4("10.213.0.10"));
    for (const bad of ["10.213.0", "10.213.0.256", "010.1.1.1x", "::1", ""]) assert.equal(isIpv4(bad), false, bad);
    assert.deepEqual(parseCidr("10.213.0.0/24"), { address: "10.213.0.0", prefix: 24, isNetwork: true });
    assert.deepEqual(parseCidr("203.0.113.7/32"), { address: "203.0.113.7", prefix: 32, isNetwork: true });
    assert.equal(parseCidr("10.213.0.5/24")?.isNetwork, false);
    for (const bad of ["10.0.0.0/33", "10.0.0.0", "10.0.0.0/24/1", "10.0.0/24", "10.0.0.0/-1"]) assert.equal(parseCidr(bad), undefined, bad);
});

test("addresses are counted from the network address and carry across octets", () => {
    assert.equal(addressAt("10.213.0.0/24", 10), "10.213.0.10");
    assert.equal(addressAt("10.50.0.0/16", 300), "10.50.1.44");
    assert.equal(addressAt("10.255.255.0/23", 256), "10.255.255.0", "counted from the network address 10.255.254.0");
    assert.throws(() => addressAt("10.213.0.0/24", 256), /no address at offset 256/);
});

test("subnets inside a network carry too (a /24 past x.x.255 moves to the next /16 octet)", () => {
    assert.deepEqual([0, 1, 2].map((i) => subnetAt("10.20.0.0/16", 24, i)), ["10.20.0.0/24", "10.20.1.0/24", "10.20.2.0/24"]);
    assert.equal(subnetAt("10.20.252.0/22", 24, 3), "10.20.255.0/24");
    assert.equal(subnetAt("10.0.0.0/8", 24, 256), "10.1.0.0/24");
    assert.throws(() => subnetAt("10.20.0.0/22", 24, 4), /no address/);
    assert.throws(() => subnetAt("10.20.0.0/24", 16, 0), /holds no \/16/);
});

test("two networks overlap when they share an address", () => {
    assert.equal(overlaps("10.0.0.0/8", "10.20.0.0/16"), true);
    assert.equal(overlaps("10.20.0.0/16", "10.20.255.0/24"), true);
    assert.equal(overlaps("10.128.0.0/14", "10.20.0.0/16"), false);
    assert.equal(overlaps("10.128.0.0/14", "10.131.255.0/24"), true);
    assert.equal(overlaps("10.128.0.0/14", "10.132.0.0/24"), false);
});
