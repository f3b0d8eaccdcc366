/**
 * IP addresses and CIDR blocks, for bans: parsed to numbers, so that
 * `2001:db8::1` and `2001:0db8:0:0:0:0:0:1` are one address, and a block
 * matches every address in it.
 *
 * @module
 */

/** An address, or a block of them: `bits` leading bits of `value` count. */
export interface Block {
  readonly family: 4 | 6;
  readonly value: bigint;
  /** The prefix length: 32 or 128 for a single address. */
  readonly bits: number;
}

/** The address as a number, or null if `text` is not an IPv4 address. */
function parseIpv4(text: string): bigint | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return null;
    const byte = Number(part);
    if (byte > 255) return null;
    value = (value << 8n) | BigInt(byte);
  }
  return value;
}

/** The address as a number, or null if `text` is not an IPv6 address. */
function parseIpv6(text: string): bigint | null {
  let rest = text.toLowerCase().split("%")[0];
  // An IPv4 tail (::ffff:192.0.2.1) is two groups.
  const tail = rest.match(/^(.*:)(\d+\.\d+\.\d+\.\d+)$/);
  if (tail) {
    const v4 = parseIpv4(tail[2]);
    if (v4 === null) return null;
    rest = `${tail[1]}${(v4 >> 16n).toString(16)}:${
      (v4 & 0xffffn).toString(16)
    }`;
  }
  const halves = rest.split("::");
  if (halves.length > 2) return null;
  const groups = (half: string) => half === "" ? [] : half.split(":");
  const head = groups(halves[0]);
  const back = halves.length === 2 ? groups(halves[1]) : [];
  const missing = 8 - head.length - back.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  let value = 0n;
  for (const group of [...head, ...Array(missing).fill("0"), ...back]) {
    if (!/^[0-9a-f]{1,4}$/.test(group)) return null;
    value = (value << 16n) | BigInt(parseInt(group, 16));
  }
  return value;
}

/**
 * An address (`192.0.2.7`, `2001:db8::7`) or a CIDR block (`10.0.0.0/8`,
 * `2001:db8::/32`), or null when `text` is neither. An IPv4-mapped IPv6
 * address is taken as the IPv4 address it holds.
 */
export function parseBlock(text: string): Block | null {
  const [address, prefix, extra] = text.trim().split("/");
  if (extra !== undefined || address === "") return null;
  let family: 4 | 6 = 4;
  let value = parseIpv4(address);
  if (value === null) {
    value = parseIpv6(address);
    if (value === null) return null;
    family = 6;
  }
  let bits = family === 4 ? 32 : 128;
  if (prefix !== undefined) {
    if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > bits) return null;
    bits = Number(prefix);
  }
  // An IPv4-mapped block (::ffff:10.0.0.0/104) is the IPv4 block it holds
  // (10.0.0.0/8): clients on IPv4 are seen by their IPv4 address.
  if (family === 6 && bits >= 96 && value >> 32n === 0xffffn) {
    family = 4;
    value &= 0xffffffffn;
    bits -= 96;
  }
  const width = family === 4 ? 32 : 128;
  const shift = BigInt(width - bits);
  return { family, value: (value >> shift) << shift, bits };
}

/**
 * The block a guest connected from `hostname` is sanctioned by: the
 * address itself for IPv4, its /64 for IPv6 (the block one subscriber
 * holds, as the connection limits count it), so that a guest banned by
 * name cannot come back from the next address of their own network.
 */
export function subscriberBlock(hostname: string): Block | null {
  const address = parseBlock(hostname);
  if (address === null || address.family === 4 || address.bits < 128) {
    return address;
  }
  return parseBlock(`${hostname}/64`);
}

/** Whether the address `address` is in `block`. */
export function contains(block: Block, address: Block): boolean {
  if (block.family === 6 && address.family === 4) {
    // An IPv6 block wide enough to hold ::ffff:0:0/96 (::/0, say) holds
    // the IPv4 addresses too, as their mapped form.
    address = { family: 6, value: 0xffff00000000n | address.value, bits: 128 };
  }
  if (block.family !== address.family || address.bits < block.bits) {
    return false;
  }
  const width = block.family === 4 ? 32 : 128;
  const shift = BigInt(width - block.bits);
  return (address.value >> shift) === (block.value >> shift);
}

/** The block as people write it: `10.0.0.0/8`, `2001:db8::1`. */
export function formatBlock(block: Block): string {
  const single = block.bits === (block.family === 4 ? 32 : 128);
  const text = block.family === 4
    ? formatIpv4(block.value)
    : formatIpv6(block.value);
  return single ? text : `${text}/${block.bits}`;
}

function formatIpv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn))
    .join(".");
}

function formatIpv6(value: bigint): string {
  const groups = Array.from(
    { length: 8 },
    (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn),
  );
  // The longest run of two or more zero groups becomes "::" (RFC 5952).
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      best = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((group) => group.toString(16));
  if (best === -1) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${
    hex.slice(best + bestLength).join(":")
  }`;
}
