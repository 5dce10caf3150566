package vsa.spark.util

import java.util.concurrent.atomic.AtomicInteger

import org.apache.spark.unsafe.Platform
import org.apache.spark.unsafe.array.ByteArrayMethods
import org.apache.spark.unsafe.types.UTF8String

/** A bounded, thread-safe cache keyed by the UTF-8 bytes of a string, for per-row lookups of repeated values (user
  * agents, addresses).
  *
  * Cheaper per hit than a `ConcurrentHashMap[UTF8String, V]`: the key is hashed 8 bytes at a time
  * (`UTF8String.hashCode` is Murmur3, 4 bytes at a time, over agents of ~150 bytes), and the table is an
  * open-addressing array of immutable entries, so a hit is one hash, one probe and one byte comparison.
  *
  * Thread safety without locks: entries are immutable and only ever added, so a reader sees either nothing (a miss: the
  * caller computes the value again) or a complete entry. Writers racing for a slot, or with a resize, may lose an
  * entry, which costs a later miss, never a wrong answer. The table starts small and doubles up to twice `capacity`
  * slots; past `capacity` entries it starts again empty, which keeps the bound without per-entry bookkeeping (the hot
  * values come back within a few rows).
  *
  * Keys longer than `maxKeyBytes` are never cached (`get` gives null, `put` does nothing): each entry holds a copy of
  * its key, so the keys' memory is bounded by `capacity` × `maxKeyBytes` whatever the input (a 60 KB `client_ip` would
  * otherwise be a 60 KB entry).
  */
final class Utf8Cache[V <: AnyRef](capacity: Int, maxKeyBytes: Int) {
  require(capacity > 0, "capacity must be positive")
  require(maxKeyBytes >= 0, "maxKeyBytes must not be negative")

  // Load factor ≤ 0.5, so probes stay short and a free slot always exists.
  private val maxSlots = Integer.highestOneBit(capacity * 2 - 1) << 1
  private val initialSlots = math.min(maxSlots, 256)
  @volatile private var table = new Array[Utf8Cache.Entry[V]](initialSlots)
  private val size = new AtomicInteger()

  /** The value cached for `key`, or null. */
  def get(key: UTF8String): V = {
    if (key.numBytes > maxKeyBytes) return null.asInstanceOf[V]
    val entries = table
    val hash = Utf8Cache.hash(key)
    val mask = entries.length - 1
    var index = hash.toInt & mask
    var probes = 0
    var entry = entries(index)
    while (entry != null && probes < entries.length) {
      if (entry.hash == hash && entry.matches(key)) return entry.value
      index = (index + 1) & mask
      probes += 1
      entry = entries(index)
    }
    null.asInstanceOf[V]
  }

  /** Caches `value` for a copy of `key` (Spark reuses the buffers its strings point into), unless the key is longer
    * than `maxKeyBytes`.
    */
  def put(key: UTF8String, value: V): Unit = {
    if (key.numBytes > maxKeyBytes) return
    val count = size.incrementAndGet()
    if (count > capacity) {
      table = new Array[Utf8Cache.Entry[V]](initialSlots)
      size.set(1)
    } else if (count * 2 > table.length) table = Utf8Cache.rehash(table, table.length * 2)
    Utf8Cache.insert(table, new Utf8Cache.Entry(Utf8Cache.hash(key), key.clone().getBytes, value))
  }

  /** The number of cached values (approximate while writers race). */
  def count: Int = math.min(size.get, capacity)
}

object Utf8Cache {

  private final class Entry[V](val hash: Long, val bytes: Array[Byte], val value: V) {
    def matches(key: UTF8String): Boolean =
      bytes.length == key.numBytes &&
        ByteArrayMethods.arrayEquals(
          bytes,
          Platform.BYTE_ARRAY_OFFSET,
          key.getBaseObject,
          key.getBaseOffset,
          bytes.length
        )
  }

  // Probes are bounded by the table's length: writers racing with a restart could, in theory, fill a small table, and
  // then an entry is simply not cached.
  private def insert[V](entries: Array[Entry[V]], entry: Entry[V]): Unit = {
    val mask = entries.length - 1
    var index = entry.hash.toInt & mask
    var probes = 0
    while (entries(index) != null && probes < entries.length) {
      index = (index + 1) & mask
      probes += 1
    }
    if (probes < entries.length) entries(index) = entry
  }

  private def rehash[V](entries: Array[Entry[V]], slots: Int): Array[Entry[V]] = {
    val grown = new Array[Entry[V]](slots)
    entries.foreach(entry => if (entry != null) insert(grown, entry))
    grown
  }

  private val Multiplier = 0x9e3779b97f4a7c15L

  /** A 64-bit hash of the key's bytes, 8 at a time, mixed at the end so the low bits index the table well. */
  def hash(key: UTF8String): Long = {
    val base = key.getBaseObject
    val offset = key.getBaseOffset
    val length = key.numBytes
    var h = length.toLong * Multiplier
    var i = 0
    while (i + 8 <= length) {
      h = java.lang.Long.rotateLeft((h ^ Platform.getLong(base, offset + i)) * Multiplier, 29)
      i += 8
    }
    var tail = 0L
    while (i < length) {
      tail = (tail << 8) | (Platform.getByte(base, offset + i) & 0xffL)
      i += 1
    }
    h = (h ^ tail) * Multiplier
    h ^ (h >>> 32)
  }
}
