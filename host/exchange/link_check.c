/* The translation unit of pounce_app_link_check (host/CMakeLists.txt): a
 * shared object made of every object of pounce_app and linked with
 * --no-undefined against the layers below it only, so that a call from the
 * app side into a protocol (host/net) fails the build. */
int pounce_app_link_check;
