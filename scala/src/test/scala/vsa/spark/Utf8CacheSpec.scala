package vsa.spark

import java.nio.charset.StandardCharsets.UTF_8

import org.apache.spark.unsafe.Platform
import org.apache.spark.unsafe.types.UTF8String
import org.scalatest.funsuite.AnyFunSuite
import vsa.spark.util.Utf8Cache

class Utf8CacheSpec extends AnyFunSuite {

  private def utf8(s: String) = UTF8String.fromString(s)

  test("returns what was put for equal bytes, and null for anything else") {
    val cache = new Utf8Cache[String](100, 1024)
    val agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36"
    cache.put(utf8(agent), "windows")
    assert(cache.get(utf8(agent)) == "windows")
    assert(cache.get(utf8(agent + " ")) == null)
    assert(cache.get(utf8(agent.dropRight(1))) == null)
    assert(cache.get(utf8("")) == null)
  }

  test("keys that share long prefixes, or differ only in their last bytes, stay apart") {
    val cache = new Utf8Cache[Integer](5000, 1024)
    val prefix = "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 Chrome/"
    (0 until 3000).foreach(i => cache.put(utf8(s"$prefix$i"), Int.box(i)))
    (0 until 3000).foreach(i => assert(cache.get(utf8(s"$prefix$i")) == i))
    assert(cache.count == 3000)
  }

  test("a key pointing into a larger buffer matches, and a later change to that buffer does not reach the cache") {
    val buffer = "xx1.2.3.4yy".getBytes(UTF_8)
    val key = UTF8String.fromBytes(buffer, 2, 7)
    val cache = new Utf8Cache[String](10, 1024)
    cache.put(key, "found")
    assert(cache.get(utf8("1.2.3.4")) == "found")
    Platform.putByte(buffer, Platform.BYTE_ARRAY_OFFSET + 2, '9'.toByte) // Spark reuses its buffers
    assert(cache.get(utf8("1.2.3.4")) == "found")
    assert(cache.get(key) == null)
  }

  test("never holds more than its capacity, and keeps the latest value when it starts again") {
    val cache = new Utf8Cache[String](1000, 1024)
    (0 until 10000).foreach(i => cache.put(utf8(s"agent $i"), s"$i"))
    assert(cache.count <= 1000)
    assert(cache.get(utf8("agent 9999")) == "9999")
  }

  test("multi-byte characters are part of the key") {
    val cache = new Utf8Cache[String](10, 1024)
    cache.put(utf8("Navigateur/1.0 (é)"), "accent")
    assert(cache.get(utf8("Navigateur/1.0 (e)")) == null)
    assert(cache.get(utf8("Navigateur/1.0 (é)")) == "accent")
  }

  test("threads sharing one cache only ever read the value put for their key") {
    val cache = new Utf8Cache[String](500, 1024)
    val wrong = new java.util.concurrent.atomic.AtomicInteger()
    val threads = (0 until 4).map { t =>
      new Thread(() =>
        (0 until 20000).foreach { i =>
          val key = s"key ${(i * 7 + t) % 800}"
          val found = cache.get(utf8(key))
          if (found == null) cache.put(utf8(key), key)
          else if (found != key) wrong.incrementAndGet()
        }
      )
    }
    threads.foreach(_.start())
    threads.foreach(_.join())
    assert(wrong.get == 0)
    assert(cache.count <= 500)
  }

  test("a key longer than the bound is never cached, so the keys' memory is capacity × bound") {
    val cache = new Utf8Cache[String](100, 45)
    val longest = "0000:0000:0000:0000:0000:ffff:255.255.255.255" // 45 bytes: cached
    cache.put(utf8(longest), "kept")
    val long = utf8("203.0.113.7" + " " * 60000)
    cache.put(long, "dropped")
    assert(cache.get(utf8(longest)) == "kept")
    assert(cache.get(long) == null)
    assert(cache.count == 1)
  }
}
