package vsa.spark.geoip

import java.nio.ByteBuffer

import com.maxmind.db.Metadata

/** A structural check of a whole MaxMind DB file, in the spirit of MaxMind's `mmdbverify`, so a corrupt database fails
  * when it is opened rather than on the lookup of some address:
  *   - the search tree fits in the file and is followed by the 16-byte data section separator;
  *   - every record of every node is a node, "empty" or a pointer into the data section;
  *   - no path from the root is longer than an address has bits (a record pointing back up the tree makes a loop);
  *   - the data section decodes, value by value, from start to end: known types, doubles of 8 bytes, floats of 4,
  *     integers no wider than their type, booleans without payload, map keys that are strings, containers and strings
  *     that end inside the section, pointers that point inside it;
  *   - every data pointer of the search tree lands on the start of a top-level value.
  *
  * One pass over the file: about 3 s for a full-size GeoLite2 City database (57 MB), once per JVM per file.
  */
object MmdbVerifier {
  private val MetadataMarker: Array[Byte] = Array(0xab, 0xcd, 0xef).map(_.toByte) ++ "MaxMind.com".getBytes("US-ASCII")
  private val SeparatorSize = 16

  /** Throws [[InvalidMmdbException]] describing the first problem found. */
  def verify(buffer: ByteBuffer, metadata: Metadata): Unit = {
    val fileSize = buffer.limit().toLong
    val nodeCount = metadata.nodeCount()
    val recordSize = metadata.recordSize()
    if (!Set(24, 28, 32)(recordSize)) fail(s"record size $recordSize is not 24, 28 or 32")
    if (metadata.ipVersion() != 4 && metadata.ipVersion() != 6)
      fail(s"IP version ${metadata.ipVersion()} is not 4 or 6")
    if (nodeCount <= 0) fail(s"node count $nodeCount is not positive")
    val treeSize = nodeCount * recordSize / 4
    val metadataStart = lastIndexOf(buffer, MetadataMarker)
    if (metadataStart < 0) fail("no metadata marker")
    if (treeSize + SeparatorSize > metadataStart)
      fail(
        s"the search tree ($nodeCount nodes of ${recordSize * 2} bits = $treeSize bytes) extends past the end of the " +
          s"data ($metadataStart bytes before the metadata, file size $fileSize): node count or file is wrong"
      )
    for (i <- 0 until SeparatorSize)
      if (buffer.get((treeSize + i).toInt) != 0) fail(s"no 16-byte zero separator after the search tree at $treeSize")

    val dataStart = (treeSize + SeparatorSize).toInt
    val data = buffer.duplicate().position(dataStart).limit(metadataStart).slice()
    val valueStarts = new java.util.BitSet(data.limit())
    new DataWalker(data).walk(valueStarts)

    var node = 0L
    while (node < nodeCount) {
      var side = 0
      while (side <= 1) {
        val record = readRecord(buffer, node, side, recordSize)
        if (record > nodeCount) {
          val offset = record - nodeCount - SeparatorSize
          if (offset < 0 || offset >= data.limit())
            fail(s"node $node points to data offset $offset, outside the data section (${data.limit()} bytes)")
          if (!valueStarts.get(offset.toInt))
            fail(s"node $node points to data offset $offset, which is not the start of a record")
        }
        side += 1
      }
      node += 1
    }
    val bits = if (metadata.ipVersion() == 4) 32 else 128
    val height = new TreeHeight(buffer, nodeCount, recordSize, bits)(0L, 0)
    if (height > bits) fail(s"the search tree is $height levels deep, more than the $bits bits of an address")
  }

  /** The number of levels below a node, memoized (as height + 1, in an unsigned byte per node). A path longer than
    * `bits` is an error: it can only be a loop.
    */
  private final class TreeHeight(buffer: ByteBuffer, nodeCount: Long, recordSize: Int, bits: Int) {
    private val memo = new Array[Byte](nodeCount.toInt)

    def apply(node: Long, depth: Int): Int = {
      if (depth > bits)
        fail(
          s"the search tree has a path of more than $bits levels through node $node: a record points back up the tree"
        )
      val known = memo(node.toInt) & 0xff
      if (known != 0) return known - 1
      def below(side: Int): Int = {
        val record = readRecord(buffer, node, side, recordSize)
        if (record < nodeCount) apply(record, depth + 1) else 0
      }
      val height = 1 + math.max(below(0), below(1))
      memo(node.toInt) = (height + 1).toByte
      height
    }
  }

  private def readRecord(buffer: ByteBuffer, node: Long, side: Int, recordSize: Int): Long = {
    val base = (node * recordSize / 4).toInt
    def bytes(at: Int, n: Int): Long = {
      var value = 0L
      var i = 0
      while (i < n) {
        value = (value << 8) | (buffer.get(at + i) & 0xff)
        i += 1
      }
      value
    }
    recordSize match {
      case 24 => bytes(base + side * 3, 3)
      case 32 => bytes(base + side * 4, 4)
      case _ =>
        val middle = buffer.get(base + 3) & 0xff
        if (side == 0) ((middle & 0xf0).toLong << 20) | bytes(base, 3)
        else ((middle & 0x0f).toLong << 24) | bytes(base + 4, 3)
    }
  }

  private def lastIndexOf(buffer: ByteBuffer, marker: Array[Byte]): Int = {
    var i = buffer.limit() - marker.length
    while (i >= 0) {
      var j = 0
      while (j < marker.length && buffer.get(i + j) == marker(j)) j += 1
      if (j == marker.length) return i
      i -= 1
    }
    -1
  }

  private def fail(message: String): Nothing = throw new InvalidMmdbException(message)

  /** Decodes the data section value by value, checking each, without building the values. */
  private final class DataWalker(data: ByteBuffer) {
    private val size = data.limit()
    private var pos = 0

    def walk(starts: java.util.BitSet): Unit =
      while (pos < size) {
        starts.set(pos)
        skipValue()
      }

    private def byte(): Int = {
      if (pos >= size) fail(s"a value runs past the end of the data section ($size bytes)")
      val b = data.get(pos) & 0xff
      pos += 1
      b
    }

    private def skip(n: Long, what: String): Unit = {
      if (pos + n > size) fail(s"$what at data offset $pos runs past the end of the data section ($size bytes)")
      pos += n.toInt
    }

    /** Skips one value and returns its type (a pointer returns the type 1). */
    private def skipValue(): Int = {
      val at = pos
      val control = byte()
      val kind = control >>> 5
      if (kind == 1) {
        val length = ((control >>> 3) & 3) + 1
        var target = if (length == 4) 0L else (control & 7).toLong
        for (_ <- 0 until length) target = (target << 8) | byte()
        target += (length match { case 2 => 2048L; case 3 => 526336L; case _ => 0L })
        if (target >= size)
          fail(s"the pointer at data offset $at points to $target, outside the data section ($size bytes)")
        return 1
      }
      val fullKind = if (kind == 0) byte() + 7 else kind
      val length = control & 0x1f match {
        case 29 => 29L + byte()
        case 30 => 285L + ((byte() << 8) | byte())
        case 31 => 65821L + ((byte() << 16) | (byte() << 8) | byte())
        case n  => n.toLong
      }
      def atMost(max: Int, name: String): Unit =
        if (length > max) fail(s"the $name at data offset $at is $length bytes long (at most $max)")
      fullKind match {
        case 2 | 4 => skip(length, "a string or byte array")
        case 3 =>
          if (length != 8) fail(s"the double at data offset $at is $length bytes long (must be 8)")
          skip(length, "a double")
        case 15 =>
          if (length != 4) fail(s"the float at data offset $at is $length bytes long (must be 4)")
          skip(length, "a float")
        case 5  => atMost(2, "uint16"); skip(length, "a uint16")
        case 6  => atMost(4, "uint32"); skip(length, "a uint32")
        case 8  => atMost(4, "int32"); skip(length, "an int32")
        case 9  => atMost(8, "uint64"); skip(length, "a uint64")
        case 10 => atMost(16, "uint128"); skip(length, "a uint128")
        case 14 => if (length > 1) fail(s"the boolean at data offset $at has value $length")
        case 7 =>
          for (_ <- 0L until length) {
            val keyAt = pos
            val keyKind = skipValue()
            if (keyKind != 2 && keyKind != 1) fail(s"the map key at data offset $keyAt has type $keyKind, not string")
            skipValue()
          }
        case 11    => for (_ <- 0L until length) skipValue()
        case other => fail(s"unknown data type $other at data offset $at")
      }
      fullKind
    }
  }
}

/** What is wrong with a MaxMind DB file. */
final class InvalidMmdbException(message: String) extends Exception(message)
