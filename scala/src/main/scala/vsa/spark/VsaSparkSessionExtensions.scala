package vsa.spark

import org.apache.spark.sql.SparkSessionExtensions
import org.apache.spark.sql.vsa.ReusedProjections

/** Registers every function of [[FunctionCatalog]] with a session, so SQL, the DataFrame API and Spark Connect clients
  * call them by name, and vsa's plan rule ([[ReusedProjections]]: projections made once per executor thread). Enable
  * with `spark.sql.extensions=vsa.spark.VsaSparkSessionExtensions`.
  */
class VsaSparkSessionExtensions extends (SparkSessionExtensions => Unit) {
  override def apply(extensions: SparkSessionExtensions): Unit = {
    FunctionCatalog.entries.foreach(e => extensions.injectFunction((e.identifier, e.info, e.builder)))
    extensions.injectColumnar(_ => ReusedProjections.columnarRule)
  }
}
