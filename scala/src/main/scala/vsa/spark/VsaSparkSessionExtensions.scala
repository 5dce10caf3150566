package vsa.spark

import org.apache.spark.sql.SparkSessionExtensions

/** Registers every function of [[FunctionCatalog]] with a session, so SQL, the DataFrame API and Spark Connect clients
  * call them by name. Enable with `spark.sql.extensions=vsa.spark.VsaSparkSessionExtensions`.
  */
class VsaSparkSessionExtensions extends (SparkSessionExtensions => Unit) {
  override def apply(extensions: SparkSessionExtensions): Unit =
    FunctionCatalog.entries.foreach(e => extensions.injectFunction((e.identifier, e.info, e.builder)))
}
