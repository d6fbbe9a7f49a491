import { deflateRawSync } from 'node:zlib';
import { crc32Bytes } from '../../src/detect/checksum.js';

export interface ZipMember {
  name: string;
  data: Buffer | string;
  /** What the headers claim the uncompressed size is (a lying zip bomb); default the real size. */
  declaredSize?: number;
}

/** A zip file (deflated members, UTF-8 names) built byte by byte, so tests need no zip program. */
export function makeZip(members: ZipMember[]): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const m of members) {
    const data = Buffer.isBuffer(m.data) ? m.data : Buffer.from(m.data);
    const packed = deflateRawSync(data);
    const name = Buffer.from(m.name);
    const fields = (header: Buffer, at: number) => {
      header.writeUInt16LE(0x0800, at); // flags: UTF-8 names
      header.writeUInt16LE(8, at + 2); // deflate
      header.writeUInt32LE(0x00210000, at + 4); // 1980-01-01 00:00
      header.writeUInt32LE(crc32Bytes(data), at + 8);
      header.writeUInt32LE(packed.length, at + 12);
      header.writeUInt32LE(m.declaredSize ?? data.length, at + 16);
      header.writeUInt16LE(name.length, at + 20);
    };
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    fields(local, 6);
    locals.push(local, name, packed);
    const entry = Buffer.alloc(46);
    entry.writeUInt32LE(0x02014b50, 0);
    entry.writeUInt16LE(20, 4);
    entry.writeUInt16LE(20, 6);
    fields(entry, 8);
    entry.writeUInt32LE(offset, 42);
    central.push(entry, name);
    offset += local.length + name.length + packed.length;
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(members.length, 8);
  end.writeUInt16LE(members.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}
