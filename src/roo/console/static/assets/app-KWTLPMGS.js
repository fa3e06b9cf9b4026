var oe,k,Me,ht,H,qe,Ne,_e,he,pe,fe,mt,J={},He=[],$t=/acit|ex(?:s|g|n|p|$)|rph|grid|ows|mnc|ntw|ine[ch]|zoo|^ord|itera/i,me=Array.isArray;function N(e,t){for(var n in t)e[n]=t[n];return e}function Re(e){e&&e.parentNode&&e.parentNode.removeChild(e)}function R(e,t,n){var s,o,a,c={};for(a in t)a=="key"?s=t[a]:a=="ref"?o=t[a]:c[a]=t[a];if(arguments.length>2&&(c.children=arguments.length>3?oe.call(arguments,2):n),typeof e=="function"&&e.defaultProps!=null)for(a in e.defaultProps)c[a]===void 0&&(c[a]=e.defaultProps[a]);return te(e,c,s,o,null)}function te(e,t,n,s,o){var a={type:e,props:t,key:n,ref:s,__k:null,__:null,__b:0,__e:null,__d:void 0,__c:null,constructor:void 0,__v:o??++Me,__i:-1,__u:0};return o==null&&k.vnode!=null&&k.vnode(a),a}function ae(e){return e.children}function ne(e,t){this.props=e,this.context=t}function W(e,t){if(t==null)return e.__?W(e.__,e.__i+1):null;for(var n;t<e.__k.length;t++)if((n=e.__k[t])!=null&&n.__e!=null)return n.__e;return typeof e.type=="function"?W(e):null}function Fe(e){var t,n;if((e=e.__)!=null&&e.__c!=null){for(e.__e=e.__c.base=null,t=0;t<e.__k.length;t++)if((n=e.__k[t])!=null&&n.__e!=null){e.__e=e.__c.base=n.__e;break}return Fe(e)}}function De(e){(!e.__d&&(e.__d=!0)&&H.push(e)&&!se.__r++||qe!==k.debounceRendering)&&((qe=k.debounceRendering)||Ne)(se)}function se(){var e,t,n,s,o,a,c,r;for(H.sort(_e);e=H.shift();)e.__d&&(t=H.length,s=void 0,a=(o=(n=e).__v).__e,c=[],r=[],n.__P&&((s=N({},o)).__v=o.__v+1,k.vnode&&k.vnode(s),$e(n.__P,s,o,n.__n,n.__P.namespaceURI,32&o.__u?[a]:null,c,a??W(o),!!(32&o.__u),r),s.__v=o.__v,s.__.__k[s.__i]=s,je(c,s,r),s.__e!=a&&Fe(s)),H.length>t&&H.sort(_e));se.__r=0}function Oe(e,t,n,s,o,a,c,r,i,u,d){var l,f,_,g,$,w=s&&s.__k||He,v=t.length;for(n.__d=i,yt(n,t,w),i=n.__d,l=0;l<v;l++)(_=n.__k[l])!=null&&(f=_.__i===-1?J:w[_.__i]||J,_.__i=l,$e(e,_,f,o,a,c,r,i,u,d),g=_.__e,_.ref&&f.ref!=_.ref&&(f.ref&&ye(f.ref,null,_),d.push(_.ref,_.__c||g,_)),$==null&&g!=null&&($=g),65536&_.__u||f.__k===_.__k?i=Le(_,i,e):typeof _.type=="function"&&_.__d!==void 0?i=_.__d:g&&(i=g.nextSibling),_.__d=void 0,_.__u&=-196609);n.__d=i,n.__e=$}function yt(e,t,n){var s,o,a,c,r,i=t.length,u=n.length,d=u,l=0;for(e.__k=[],s=0;s<i;s++)(o=t[s])!=null&&typeof o!="boolean"&&typeof o!="function"?(c=s+l,(o=e.__k[s]=typeof o=="string"||typeof o=="number"||typeof o=="bigint"||o.constructor==String?te(null,o,null,null,null):me(o)?te(ae,{children:o},null,null,null):o.constructor===void 0&&o.__b>0?te(o.type,o.props,o.key,o.ref?o.ref:null,o.__v):o).__=e,o.__b=e.__b+1,a=null,(r=o.__i=gt(o,n,c,d))!==-1&&(d--,(a=n[r])&&(a.__u|=131072)),a==null||a.__v===null?(r==-1&&l--,typeof o.type!="function"&&(o.__u|=65536)):r!==c&&(r==c-1?l--:r==c+1?l++:(r>c?l--:l++,o.__u|=65536))):o=e.__k[s]=null;if(d)for(s=0;s<u;s++)(a=n[s])!=null&&!(131072&a.__u)&&(a.__e==e.__d&&(e.__d=W(a)),We(a,a))}function Le(e,t,n){var s,o;if(typeof e.type=="function"){for(s=e.__k,o=0;s&&o<s.length;o++)s[o]&&(s[o].__=e,t=Le(s[o],t,n));return t}e.__e!=t&&(t&&e.type&&!n.contains(t)&&(t=W(e)),n.insertBefore(e.__e,t||null),t=e.__e);do t=t&&t.nextSibling;while(t!=null&&t.nodeType===8);return t}function gt(e,t,n,s){var o=e.key,a=e.type,c=n-1,r=n+1,i=t[n];if(i===null||i&&o==i.key&&a===i.type&&!(131072&i.__u))return n;if(s>(i!=null&&!(131072&i.__u)?1:0))for(;c>=0||r<t.length;){if(c>=0){if((i=t[c])&&!(131072&i.__u)&&o==i.key&&a===i.type)return c;c--}if(r<t.length){if((i=t[r])&&!(131072&i.__u)&&o==i.key&&a===i.type)return r;r++}}return-1}function Ae(e,t,n){t[0]==="-"?e.setProperty(t,n??""):e[t]=n==null?"":typeof n!="number"||$t.test(t)?n:n+"px"}function ee(e,t,n,s,o){var a;e:if(t==="style")if(typeof n=="string")e.style.cssText=n;else{if(typeof s=="string"&&(e.style.cssText=s=""),s)for(t in s)n&&t in n||Ae(e.style,t,"");if(n)for(t in n)s&&n[t]===s[t]||Ae(e.style,t,n[t])}else if(t[0]==="o"&&t[1]==="n")a=t!==(t=t.replace(/(PointerCapture)$|Capture$/i,"$1")),t=t.toLowerCase()in e||t==="onFocusOut"||t==="onFocusIn"?t.toLowerCase().slice(2):t.slice(2),e.l||(e.l={}),e.l[t+a]=n,n?s?n.u=s.u:(n.u=he,e.addEventListener(t,a?fe:pe,a)):e.removeEventListener(t,a?fe:pe,a);else{if(o=="http://www.w3.org/2000/svg")t=t.replace(/xlink(H|:h)/,"h").replace(/sName$/,"s");else if(t!="width"&&t!="height"&&t!="href"&&t!="list"&&t!="form"&&t!="tabIndex"&&t!="download"&&t!="rowSpan"&&t!="colSpan"&&t!="role"&&t!="popover"&&t in e)try{e[t]=n??"";break e}catch{}typeof n=="function"||(n==null||n===!1&&t[4]!=="-"?e.removeAttribute(t):e.setAttribute(t,t=="popover"&&n==1?"":n))}}function Ue(e){return function(t){if(this.l){var n=this.l[t.type+e];if(t.t==null)t.t=he++;else if(t.t<n.u)return;return n(k.event?k.event(t):t)}}}function $e(e,t,n,s,o,a,c,r,i,u){var d,l,f,_,g,$,w,v,b,y,h,E,T,M,A,j,U=t.type;if(t.constructor!==void 0)return null;128&n.__u&&(i=!!(32&n.__u),a=[r=t.__e=n.__e]),(d=k.__b)&&d(t);e:if(typeof U=="function")try{if(v=t.props,b="prototype"in U&&U.prototype.render,y=(d=U.contextType)&&s[d.__c],h=d?y?y.props.value:d.__:s,n.__c?w=(l=t.__c=n.__c).__=l.__E:(b?t.__c=l=new U(v,h):(t.__c=l=new ne(v,h),l.constructor=U,l.render=bt),y&&y.sub(l),l.props=v,l.state||(l.state={}),l.context=h,l.__n=s,f=l.__d=!0,l.__h=[],l._sb=[]),b&&l.__s==null&&(l.__s=l.state),b&&U.getDerivedStateFromProps!=null&&(l.__s==l.state&&(l.__s=N({},l.__s)),N(l.__s,U.getDerivedStateFromProps(v,l.__s))),_=l.props,g=l.state,l.__v=t,f)b&&U.getDerivedStateFromProps==null&&l.componentWillMount!=null&&l.componentWillMount(),b&&l.componentDidMount!=null&&l.__h.push(l.componentDidMount);else{if(b&&U.getDerivedStateFromProps==null&&v!==_&&l.componentWillReceiveProps!=null&&l.componentWillReceiveProps(v,h),!l.__e&&(l.shouldComponentUpdate!=null&&l.shouldComponentUpdate(v,l.__s,h)===!1||t.__v===n.__v)){for(t.__v!==n.__v&&(l.props=v,l.state=l.__s,l.__d=!1),t.__e=n.__e,t.__k=n.__k,t.__k.some(function(X){X&&(X.__=t)}),E=0;E<l._sb.length;E++)l.__h.push(l._sb[E]);l._sb=[],l.__h.length&&c.push(l);break e}l.componentWillUpdate!=null&&l.componentWillUpdate(v,l.__s,h),b&&l.componentDidUpdate!=null&&l.__h.push(function(){l.componentDidUpdate(_,g,$)})}if(l.context=h,l.props=v,l.__P=e,l.__e=!1,T=k.__r,M=0,b){for(l.state=l.__s,l.__d=!1,T&&T(t),d=l.render(l.props,l.state,l.context),A=0;A<l._sb.length;A++)l.__h.push(l._sb[A]);l._sb=[]}else do l.__d=!1,T&&T(t),d=l.render(l.props,l.state,l.context),l.state=l.__s;while(l.__d&&++M<25);l.state=l.__s,l.getChildContext!=null&&(s=N(N({},s),l.getChildContext())),b&&!f&&l.getSnapshotBeforeUpdate!=null&&($=l.getSnapshotBeforeUpdate(_,g)),Oe(e,me(j=d!=null&&d.type===ae&&d.key==null?d.props.children:d)?j:[j],t,n,s,o,a,c,r,i,u),l.base=t.__e,t.__u&=-161,l.__h.length&&c.push(l),w&&(l.__E=l.__=null)}catch(X){if(t.__v=null,i||a!=null){for(t.__u|=i?160:128;r&&r.nodeType===8&&r.nextSibling;)r=r.nextSibling;a[a.indexOf(r)]=null,t.__e=r}else t.__e=n.__e,t.__k=n.__k;k.__e(X,t,n)}else a==null&&t.__v===n.__v?(t.__k=n.__k,t.__e=n.__e):t.__e=vt(n.__e,t,n,s,o,a,c,i,u);(d=k.diffed)&&d(t)}function je(e,t,n){t.__d=void 0;for(var s=0;s<n.length;s++)ye(n[s],n[++s],n[++s]);k.__c&&k.__c(t,e),e.some(function(o){try{e=o.__h,o.__h=[],e.some(function(a){a.call(o)})}catch(a){k.__e(a,o.__v)}})}function vt(e,t,n,s,o,a,c,r,i){var u,d,l,f,_,g,$,w=n.props,v=t.props,b=t.type;if(b==="svg"?o="http://www.w3.org/2000/svg":b==="math"?o="http://www.w3.org/1998/Math/MathML":o||(o="http://www.w3.org/1999/xhtml"),a!=null){for(u=0;u<a.length;u++)if((_=a[u])&&"setAttribute"in _==!!b&&(b?_.localName===b:_.nodeType===3)){e=_,a[u]=null;break}}if(e==null){if(b===null)return document.createTextNode(v);e=document.createElementNS(o,b,v.is&&v),r&&(k.__m&&k.__m(t,a),r=!1),a=null}if(b===null)w===v||r&&e.data===v||(e.data=v);else{if(a=a&&oe.call(e.childNodes),w=n.props||J,!r&&a!=null)for(w={},u=0;u<e.attributes.length;u++)w[(_=e.attributes[u]).name]=_.value;for(u in w)if(_=w[u],u!="children"){if(u=="dangerouslySetInnerHTML")l=_;else if(!(u in v)){if(u=="value"&&"defaultValue"in v||u=="checked"&&"defaultChecked"in v)continue;ee(e,u,null,_,o)}}for(u in v)_=v[u],u=="children"?f=_:u=="dangerouslySetInnerHTML"?d=_:u=="value"?g=_:u=="checked"?$=_:r&&typeof _!="function"||w[u]===_||ee(e,u,_,w[u],o);if(d)r||l&&(d.__html===l.__html||d.__html===e.innerHTML)||(e.innerHTML=d.__html),t.__k=[];else if(l&&(e.innerHTML=""),Oe(e,me(f)?f:[f],t,n,s,b==="foreignObject"?"http://www.w3.org/1999/xhtml":o,a,c,a?a[0]:n.__k&&W(n,0),r,i),a!=null)for(u=a.length;u--;)Re(a[u]);r||(u="value",b==="progress"&&g==null?e.removeAttribute("value"):g!==void 0&&(g!==e[u]||b==="progress"&&!g||b==="option"&&g!==w[u])&&ee(e,u,g,w[u],o),u="checked",$!==void 0&&$!==e[u]&&ee(e,u,$,w[u],o))}return e}function ye(e,t,n){try{if(typeof e=="function"){var s=typeof e.__u=="function";s&&e.__u(),s&&t==null||(e.__u=e(t))}else e.current=t}catch(o){k.__e(o,n)}}function We(e,t,n){var s,o;if(k.unmount&&k.unmount(e),(s=e.ref)&&(s.current&&s.current!==e.__e||ye(s,null,t)),(s=e.__c)!=null){if(s.componentWillUnmount)try{s.componentWillUnmount()}catch(a){k.__e(a,t)}s.base=s.__P=null}if(s=e.__k)for(o=0;o<s.length;o++)s[o]&&We(s[o],t,n||typeof e.type!="function");n||Re(e.__e),e.__c=e.__=e.__e=e.__d=void 0}function bt(e,t,n){return this.constructor(e,n)}function Be(e,t,n){var s,o,a,c;k.__&&k.__(e,t),o=(s=typeof n=="function")?null:n&&n.__k||t.__k,a=[],c=[],$e(t,e=(!s&&n||t).__k=R(ae,null,[e]),o||J,J,t.namespaceURI,!s&&n?[n]:o?null:t.firstChild?oe.call(t.childNodes):null,a,!s&&n?n:o?o.__e:t.firstChild,s,c),je(a,e,c)}oe=He.slice,k={__e:function(e,t,n,s){for(var o,a,c;t=t.__;)if((o=t.__c)&&!o.__)try{if((a=o.constructor)&&a.getDerivedStateFromError!=null&&(o.setState(a.getDerivedStateFromError(e)),c=o.__d),o.componentDidCatch!=null&&(o.componentDidCatch(e,s||{}),c=o.__d),c)return o.__E=o}catch(r){e=r}throw e}},Me=0,ht=function(e){return e!=null&&e.constructor==null},ne.prototype.setState=function(e,t){var n;n=this.__s!=null&&this.__s!==this.state?this.__s:this.__s=N({},this.state),typeof e=="function"&&(e=e(N({},n),this.props)),e&&N(n,e),e!=null&&this.__v&&(t&&this._sb.push(t),De(this))},ne.prototype.forceUpdate=function(e){this.__v&&(this.__e=!0,e&&this.__h.push(e),De(this))},ne.prototype.render=ae,H=[],Ne=typeof Promise=="function"?Promise.prototype.then.bind(Promise.resolve()):setTimeout,_e=function(e,t){return e.__v.__b-t.__v.__b},se.__r=0,he=0,pe=Ue(!1),fe=Ue(!0),mt=0;var G,x,ge,Ke,ie=0,Xe=[],C=k,Ve=C.__b,ze=C.__r,Je=C.diffed,Ge=C.__c,Ye=C.unmount,Qe=C.__;function be(e,t){C.__h&&C.__h(x,e,ie||t),ie=0;var n=x.__H||(x.__H={__:[],__h:[]});return e>=n.__.length&&n.__.push({}),n.__[e]}function m(e){return ie=1,kt(tt,e)}function kt(e,t,n){var s=be(G++,2);if(s.t=e,!s.__c&&(s.__=[n?n(t):tt(void 0,t),function(r){var i=s.__N?s.__N[0]:s.__[0],u=s.t(i,r);i!==u&&(s.__N=[u,s.__[1]],s.__c.setState({}))}],s.__c=x,!x.u)){var o=function(r,i,u){if(!s.__c.__H)return!0;var d=s.__c.__H.__.filter(function(f){return!!f.__c});if(d.every(function(f){return!f.__N}))return!a||a.call(this,r,i,u);var l=!1;return d.forEach(function(f){if(f.__N){var _=f.__[0];f.__=f.__N,f.__N=void 0,_!==f.__[0]&&(l=!0)}}),!(!l&&s.__c.props===r)&&(!a||a.call(this,r,i,u))};x.u=!0;var a=x.shouldComponentUpdate,c=x.componentWillUpdate;x.componentWillUpdate=function(r,i,u){if(this.__e){var d=a;a=void 0,o(r,i,u),a=d}c&&c.call(this,r,i,u)},x.shouldComponentUpdate=o}return s.__N||s.__}function I(e,t){var n=be(G++,3);!C.__s&&et(n.__H,t)&&(n.__=e,n.i=t,x.__H.__h.push(n))}function ke(e){return ie=5,wt(function(){return{current:e}},[])}function wt(e,t){var n=be(G++,7);return et(n.__H,t)&&(n.__=e(),n.__H=t,n.__h=e),n.__}function St(){for(var e;e=Xe.shift();)if(e.__P&&e.__H)try{e.__H.__h.forEach(re),e.__H.__h.forEach(ve),e.__H.__h=[]}catch(t){e.__H.__h=[],C.__e(t,e.__v)}}C.__b=function(e){x=null,Ve&&Ve(e)},C.__=function(e,t){e&&t.__k&&t.__k.__m&&(e.__m=t.__k.__m),Qe&&Qe(e,t)},C.__r=function(e){ze&&ze(e),G=0;var t=(x=e.__c).__H;t&&(ge===x?(t.__h=[],x.__h=[],t.__.forEach(function(n){n.__N&&(n.__=n.__N),n.i=n.__N=void 0})):(t.__h.forEach(re),t.__h.forEach(ve),t.__h=[],G=0)),ge=x},C.diffed=function(e){Je&&Je(e);var t=e.__c;t&&t.__H&&(t.__H.__h.length&&(Xe.push(t)!==1&&Ke===C.requestAnimationFrame||((Ke=C.requestAnimationFrame)||xt)(St)),t.__H.__.forEach(function(n){n.i&&(n.__H=n.i),n.i=void 0})),ge=x=null},C.__c=function(e,t){t.some(function(n){try{n.__h.forEach(re),n.__h=n.__h.filter(function(s){return!s.__||ve(s)})}catch(s){t.some(function(o){o.__h&&(o.__h=[])}),t=[],C.__e(s,n.__v)}}),Ge&&Ge(e,t)},C.unmount=function(e){Ye&&Ye(e);var t,n=e.__c;n&&n.__H&&(n.__H.__.forEach(function(s){try{re(s)}catch(o){t=o}}),n.__H=void 0,t&&C.__e(t,n.__v))};var Ze=typeof requestAnimationFrame=="function";function xt(e){var t,n=function(){clearTimeout(s),Ze&&cancelAnimationFrame(t),setTimeout(e)},s=setTimeout(n,100);Ze&&(t=requestAnimationFrame(n))}function re(e){var t=x,n=e.__c;typeof n=="function"&&(e.__c=void 0,n()),x=t}function ve(e){var t=x;e.__c=e.__(),x=t}function et(e,t){return!e||e.length!==t.length||t.some(function(n,s){return n!==e[s]})}function tt(e,t){return typeof t=="function"?t(e):t}var st=function(e,t,n,s){var o;t[0]=0;for(var a=1;a<t.length;a++){var c=t[a++],r=t[a]?(t[0]|=c?1:2,n[t[a++]]):t[++a];c===3?s[0]=r:c===4?s[1]=Object.assign(s[1]||{},r):c===5?(s[1]=s[1]||{})[t[++a]]=r:c===6?s[1][t[++a]]+=r+"":c?(o=e.apply(r,st(e,r,n,["",null])),s.push(o),r[0]?t[0]|=2:(t[a-2]=0,t[a]=o)):s.push(r)}return s},nt=new Map;function B(e){var t=nt.get(this);return t||(t=new Map,nt.set(this,t)),(t=st(this,t.get(e)||(t.set(e,t=function(n){for(var s,o,a=1,c="",r="",i=[0],u=function(f){a===1&&(f||(c=c.replace(/^\s*\n\s*|\s*\n\s*$/g,"")))?i.push(0,f,c):a===3&&(f||c)?(i.push(3,f,c),a=2):a===2&&c==="..."&&f?i.push(4,f,0):a===2&&c&&!f?i.push(5,0,!0,c):a>=5&&((c||!f&&a===5)&&(i.push(a,0,c,o),a=6),f&&(i.push(a,f,0,o),a=6)),c=""},d=0;d<n.length;d++){d&&(a===1&&u(),u(d));for(var l=0;l<n[d].length;l++)s=n[d][l],a===1?s==="<"?(u(),i=[i],a=3):c+=s:a===4?c==="--"&&s===">"?(a=1,c=""):c=s+c[0]:r?s===r?r="":c+=s:s==='"'||s==="'"?r=s:s===">"?(u(),a=1):a&&(s==="="?(a=5,o=c,c=""):s==="/"&&(a<5||n[d][l+1]===">")?(u(),a===3&&(i=i[0]),a=i,(i=i[0]).push(2,0,a),a=0):s===" "||s==="	"||s===`
`||s==="\r"?(u(),a=2):c+=s),a===3&&c==="!--"&&(a=4,i=i[0])}return u(),i}(e)),t),arguments,[])).length>1?t:t[0]}var Se="/api/v1",ce="roo.console.refresh",Y=null,le=null,we=()=>{},K=class extends Error{constructor(t,n){super(n?.detail||n?.title||`HTTP ${t}`),this.status=t,this.problem=n||{}}};function ot(e){we=e}function xe(){return sessionStorage.getItem(ce)!==null}function at(e){return Y=e.token,sessionStorage.setItem(ce,e.refreshToken),e.user}function Ce(){Y=null,sessionStorage.removeItem(ce)}async function Ee(e){try{return await e.json()}catch{return{title:e.statusText}}}async function rt(e,t){let n=await fetch(`${Se}/auth/login`,{method:"POST",headers:{"Content-Type":"application/json"},body:JSON.stringify({email:e,password:t})});if(!n.ok)throw new K(n.status,await Ee(n));return at(await n.json())}function Q(){return le||(le=(async()=>{let e=sessionStorage.getItem(ce);if(!e)throw new K(401,{title:"Not signed in"});let t=await fetch(`${Se}/auth/refresh`,{method:"POST",headers:{"Content-Type":"application/json"},body:JSON.stringify({refreshToken:e})});if(!t.ok)throw Ce(),new K(t.status,await Ee(t));return at(await t.json())})().finally(()=>{le=null})),le}async function it(){try{Y&&await P("POST","/auth/logout",void 0,{retry:!1})}catch{}finally{Ce()}}async function P(e,t,n,s={}){let{raw:o=!1,headers:a={},retry:c=!0}=s,r={method:e,headers:{...a}};Y&&(r.headers.Authorization=`Bearer ${Y}`),n!==void 0&&(typeof n=="string"||n instanceof Blob||n instanceof ArrayBuffer?r.body=n:(r.body=JSON.stringify(n),r.headers["Content-Type"]="application/json"));let i=await fetch(Se+t,r);if(i.status===401&&c&&xe()){try{await Q()}catch(u){throw we(),u}return P(e,t,n,{...s,retry:!1})}if(i.status===401&&(Ce(),we()),!i.ok&&i.status!==304)throw new K(i.status,await Ee(i));return o?i:i.status===204?null:i.json()}var q=e=>P("GET",e),F=(e,t)=>P("POST",e,t),O=(e,t)=>P("PUT",e,t),V=e=>P("DELETE",e);var Et=new Set([1e3,1001,1005,1006,1011,1012,4408]),ue=class{constructor(t,{onEvent:n,onHello:s,onStatus:o}){this.sessionId=t,this.onEvent=n,this.onHello=s,this.onStatus=o,this.lastSeq=0,this.socket=null,this.closed=!1,this.delay=500,this.pending=new Map,this.nextId=1,this.connects=0}async open(){if(this.closed)return;this.onStatus("connecting");let t;try{({ticket:t}=await F(`/sessions/${this.sessionId}/ws-ticket`))}catch(a){if(a.status===404||a.status===401||a.status===403){this.onStatus("closed");return}this.retry();return}if(this.closed)return;let s=`${location.protocol==="https:"?"wss":"ws"}://${location.host}/api/v1/sessions/${this.sessionId}/ws?ticket=${encodeURIComponent(t)}&lastSeq=${this.lastSeq}`,o=new WebSocket(s);this.socket=o,o.onmessage=a=>this.receive(JSON.parse(a.data)),o.onclose=a=>this.dropped(o,a.code)}receive(t){if(t.seq!==void 0){if(t.seq<=this.lastSeq)return;this.lastSeq=t.seq,this.onEvent(t);return}if(t.type==="hello")this.connects+=1,this.delay=500,this.onStatus("live"),this.onHello(t);else if((t.type==="ack"||t.type==="error")&&this.pending.has(t.id)){let{resolve:n,reject:s}=this.pending.get(t.id);this.pending.delete(t.id),t.type==="ack"?n(t.task):s(Object.assign(new Error(t.problem?.detail||t.problem?.title),t.problem))}}async dropped(t,n){if(t===this.socket){this.socket=null;for(let{reject:s}of this.pending.values())s(new Error("connection lost"));if(this.pending.clear(),!this.closed)if(n===4401){try{await Q()}catch{this.onStatus("closed");return}this.retry()}else Et.has(n)?this.retry():this.onStatus("closed")}}retry(){this.onStatus("reconnecting");let t=this.delay*(.75+Math.random()/2);this.delay=Math.min(this.delay*2,1e4),setTimeout(()=>this.open(),t)}send(t){if(!this.socket||this.socket.readyState!==WebSocket.OPEN)return Promise.reject(new Error("not connected: try again in a moment"));let n=`c${this.nextId++}`;return new Promise((s,o)=>{this.pending.set(n,{resolve:s,reject:o}),this.socket.send(JSON.stringify({...t,id:n}))})}close(){this.closed=!0,this.socket&&this.socket.close(1e3),this.socket=null}};function Ie(){return{items:[],calls:new Map,asks:new Map,tasks:new Map,count:0,lastSeq:0}}function It(e,t){return e.tasks.has(t)||e.tasks.set(t,{id:t,state:"queued",todos:[],usage:null}),e.tasks.get(t)}function lt(e,t){let n=t.data||{},s=e.items,o=s[s.length-1];e.count+=1,e.lastSeq=t.seq;let a=t.taskId?It(e,t.taskId):null;switch(t.event){case"task.created":s.push({type:"note",seq:t.seq,taskId:t.taskId,text:`Task started: ${n.mode||""} ${n.model||""}`.trim()}),n.mode&&(a.mode=n.mode);break;case"task.state":a.state=n.to;break;case"message":o&&o.type==="text"&&o.kind===n.kind&&o.taskId===t.taskId?o.text+=n.delta:s.push({type:"text",seq:t.seq,taskId:t.taskId,kind:n.kind,text:n.delta});break;case"tool.execution":if(n.phase==="start"){let c={type:"tool",seq:t.seq,taskId:t.taskId,callId:n.callId,tool:n.tool,params:n.params||{},output:"",end:null};e.calls.set(n.callId,c),s.push(c)}else{let c=e.calls.get(n.callId);if(!c)break;n.phase==="output"?c.output+=n.output||"":n.phase==="end"&&(c.end=n)}break;case"approval.required":{let c={type:"ask",seq:t.seq,taskId:t.taskId,...n,resolved:null};e.asks.set(n.approvalId,c),s.push(c);break}case"approval.resolved":{let c=e.asks.get(n.approvalId);c&&(c.resolved=n);break}case"task.todos":a.todos=n.todos||[];break;case"task.progress":a.usage=n;break;case"task.mode":s.push({type:"note",seq:t.seq,taskId:t.taskId,text:`Mode: ${n.from||"?"} \u2192 ${n.to||n.mode||"?"}`});break;case"task.complete":s.push({type:"complete",seq:t.seq,taskId:t.taskId,result:n.result||"",usage:n.usage});break;case"task.cancelled":s.push({type:"note",seq:t.seq,taskId:t.taskId,text:`Cancelled${n.reason?`: ${n.reason}`:""}`});break;case"task.interrupted":s.push({type:"error",seq:t.seq,taskId:t.taskId,text:`Interrupted: ${n.message||n.reason||""}`});break;case"error.occurred":s.push({type:"error",seq:t.seq,taskId:t.taskId,text:`${n.reason||"error"}: ${n.message||""}`});break;case"task.delegated":s.push({type:"note",seq:t.seq,taskId:t.taskId,text:"Subtask started"});break;default:break}}var D=B.bind(R),Z=e=>e.split("/").map(encodeURIComponent).join("/");function ct({sessionId:e}){let t=`/sessions/${e}/files`,[n,s]=m([]),[o,a]=m(null),[c,r]=m(""),[i,u]=m(!1),[d,l]=m(null),[f,_]=m(null),g=()=>P("GET",`${t}?recursive=true&limit=2000`).then(y=>s(y.entries),_);I(()=>{g()},[e]);async function $(y){_(null),l(null),u(!1);try{let h=await P("GET",`${t}/${Z(y)}?format=json`);a(h),r(h.encoding==="utf-8"?h.text:"")}catch(h){_(h)}}async function w(y){y.preventDefault(),_(null),l(null);try{let E=await(await P("PUT",`${t}/${Z(o.path)}`,new Blob([c]),{raw:!0,headers:{"Content-Type":"application/octet-stream","If-Match":o.etag}})).json();a({...o,etag:E.etag,text:c,size:E.size}),u(!1),l("Saved."),g()}catch(h){h.status===412?u(!0):_(h)}}async function v(y){let h=y.target.files[0];if(!h)return;let E=o&&o.path.includes("/")?o.path.slice(0,o.path.lastIndexOf("/")+1):"";_(null),l(null);try{await P("POST",`${t}/${Z(E+h.name)}`,h,{headers:{"Content-Type":"application/octet-stream"}}),await g(),await $(E+h.name),l(`Uploaded ${E+h.name}.`)}catch(T){_(T)}finally{y.target.value=""}}async function b(){if(confirm(`Delete ${o.path}?`))try{await P("DELETE",`${t}/${Z(o.path)}`),a(null),g()}catch(y){_(y)}}return D`<section class="files">
    <nav class="tree" aria-label="Workspace files">
      <div class="row">
        <button class="link" onClick=${g}>↻ Refresh</button>
        <label class="upload">Upload <input type="file" aria-label="Upload a file" onChange=${v} /></label>
      </div>
      <ul>
        ${n.map(y=>D`<li key=${y.path} class=${`depth-${Math.min(y.path.split("/").length-1,6)}`}>
            ${y.type==="file"?D`<button class="link file" data-path=${y.path} onClick=${()=>$(y.path)}>${y.name}</button>`:D`<span class="dir">${y.name}${y.type==="dir"?"/":""}</span>`}
          </li>`)}
      </ul>
    </nav>
    <div class="editor">
      ${o?D`<form onSubmit=${w}>
            <div class="row"><code data-open-path=${o.path}>${o.path}</code><span class="muted">${o.size} bytes</span>
              <span class="spacer"></span>
              <a href="#" class="link" onClick=${y=>(y.preventDefault(),Tt(t,o.path))}>Download</a>
              <button type="button" class="deny" onClick=${b}>Delete</button>
              <button type="submit" disabled=${o.encoding!=="utf-8"}>Save</button>
            </div>
            ${i?D`<div class="conflict" role="alert">
                  This file changed since you opened it; your edit was not saved.
                  <button type="button" onClick=${()=>$(o.path)}>Load their version (drops yours)</button>
                </div>`:null}
            ${d?D`<p class="good" role="status">${d}</p>`:null}
            ${o.encoding==="utf-8"?D`<textarea class="code" spellcheck="false" aria-label="File content" value=${c} onInput=${y=>r(y.target.value)}></textarea>`:D`<p class="muted">A binary file: download it.</p>`}
          </form>`:D`<p class="muted">Pick a file.</p>`}
      <${Pt} error=${f} />
    </div>
  </section>`}function Pt({error:e}){return e?D`<p class="error" role="alert">${e.message}</p>`:null}async function Tt(e,t){let n=await P("GET",`${e}/${Z(t)}`,void 0,{raw:!0}),s=URL.createObjectURL(await n.blob()),o=document.createElement("a");o.href=s,o.download=t.split("/").pop(),o.click(),setTimeout(()=>URL.revokeObjectURL(s),1e3)}var S=B.bind(R),ut=["viewer","member","admin"],qt=["anthropic","openai"],de=e=>e?new Date(e).toLocaleString():"\u2014";function z({error:e}){return e?S`<p class="error" role="alert">${e.message}</p>`:null}function Dt({permissions:e}){let[t,n]=m([]),[s,o]=m(null),[a,c]=m(!1),[r,i]=m(null),u=()=>q("/auth/api-keys").then(n,i);I(()=>{u()},[]);async function d(_){_.preventDefault();let g=new FormData(_.target),$={name:g.get("name"),scopes:g.getAll("scope")};g.get("expires")&&($.expiresAt=new Date(`${g.get("expires")}T23:59:59Z`).toISOString()),i(null);try{o(await F("/auth/api-keys",$)),c(!1),_.target.reset(),u()}catch(w){i(w)}}async function l(_){if(confirm(`Revoke the key "${_.name}"? Programs using it stop working.`))try{await V(`/auth/api-keys/${_.id}`),u()}catch(g){i(g)}}async function f(){try{await navigator.clipboard.writeText(s.key),c(!0)}catch{c(!1)}}return S`<section aria-labelledby="keys-title">
    <h2 id="keys-title">API keys</h2>
    ${s?S`<div class="created-key" role="status">
          <p>The key <strong>${s.name}</strong>: copy it now, it is not shown again.</p>
          <div class="row"><code class="secret" data-secret>${s.key}</code>
            <button type="button" onClick=${f}>${a?"Copied":"Copy"}</button>
            <button type="button" onClick=${()=>o(null)}>Done</button></div>
        </div>`:null}
    <table class="table">
      <thead><tr><th>Name</th><th>Key</th><th>Scopes</th><th>Created</th><th>Last used</th><th>Expires</th><th></th></tr></thead>
      <tbody>
        ${t.map(_=>S`<tr key=${_.id} data-key=${_.name} class=${_.revokedAt?"revoked":""}>
            <td>${_.name}</td><td><code>${_.prefix}…</code></td><td>${_.scopes.join(", ")}</td>
            <td>${de(_.createdAt)}</td><td>${de(_.lastUsedAt)}</td><td>${de(_.expiresAt)}</td>
            <td>${_.revokedAt?S`<span class="muted">revoked</span>`:S`<button class="deny" onClick=${()=>l(_)} aria-label=${`Revoke ${_.name}`}>Revoke</button>`}</td>
          </tr>`)}
      </tbody>
    </table>
    <form class="newkey" onSubmit=${d} aria-label="Create an API key">
      <label>Name <input name="name" required maxlength="100" /></label>
      <fieldset><legend>Scopes</legend>
        ${e.map(_=>S`<label class="check"><input type="checkbox" name="scope" value=${_} checked=${_.endsWith(":read")} /> ${_}</label>`)}
      </fieldset>
      <label>Expires (optional) <input name="expires" type="date" /></label>
      <button type="submit">Create key</button>
    </form>
    <${z} error=${r} />
  </section>`}function At({me:e}){let[t,n]=m([]),[s,o]=m(null),a=()=>q("/users?limit=200").then(r=>n(r.items),o);I(()=>{a()},[]);async function c(r,i){o(null);try{await P("PATCH",`/users/${r.id}`,i)}catch(u){o(u)}a()}return S`<section aria-labelledby="users-title">
    <h2 id="users-title">Users</h2>
    <table class="table">
      <thead><tr><th>Email</th><th>Role</th><th>Disabled</th><th>Last sign-in</th></tr></thead>
      <tbody>
        ${t.map(r=>S`<tr key=${r.id} data-user-row=${r.email}>
            <td>${r.email}</td>
            <td><select aria-label=${`Role of ${r.email}`} value=${ut.filter(i=>r.roles.includes(i)).pop()||"viewer"}
                 disabled=${r.id===e.userId} onChange=${i=>c(r,{roles:[i.target.value]})}>
              ${ut.map(i=>S`<option value=${i}>${i}</option>`)}</select></td>
            <td><input type="checkbox" aria-label=${`Disable ${r.email}`} checked=${r.disabled} disabled=${r.id===e.userId}
                 onChange=${i=>c(r,{disabled:i.target.checked})} /></td>
            <td>${de(r.lastLoginAt)}</td>
          </tr>`)}
      </tbody>
    </table>
    <${z} error=${s} />
  </section>`}function Ut(){let[e,t]=m(null),[n,s]=m(null),[o,a]=m(null);I(()=>{q("/auth/profile").then(t,a)},[]);async function c(i){i.preventDefault(),a(null);try{t(await O("/auth/profile",{displayName:new FormData(i.target).get("displayName")})),s("Profile saved.")}catch(u){a(u)}}async function r(i){i.preventDefault();let u=new FormData(i.target);a(null);try{await O("/auth/password",{currentPassword:u.get("current"),newPassword:u.get("new"),revokeApiKeys:u.get("revoke")==="on"}),i.target.reset(),s("Password changed: sign in again."),setTimeout(()=>location.reload(),1500)}catch(d){a(d)}}return e?S`<section aria-labelledby="profile-title">
    <h2 id="profile-title">Profile</h2>
    <form class="row" onSubmit=${c} aria-label="Profile">
      <label>Display name <input name="displayName" value=${e.displayName} maxlength="100" /></label>
      <button type="submit">Save profile</button>
    </form>
    ${e.provider==="local"?S`<form class="row" onSubmit=${r} aria-label="Change password">
          <label>Current password <input name="current" type="password" autocomplete="current-password" required /></label>
          <label>New password <input name="new" type="password" autocomplete="new-password" minlength="12" required /></label>
          <label class="check"><input name="revoke" type="checkbox" checked /> revoke my API keys</label>
          <button type="submit">Change password</button>
        </form>`:null}
    ${n?S`<p class="good" role="status">${n}</p>`:null}
    <${z} error=${o} />
  </section>`:S`<${z} error=${o} />`}function Mt(){let[e,t]=m([]),[n,s]=m(null),o=()=>q("/auth/providers").then(t,s);I(()=>{o()},[]);async function a(r,i){r.preventDefault();let u=new FormData(r.target),d={};if(u.get("apiKey")&&(d.apiKey=u.get("apiKey")),u.get("baseUrl")&&(d.baseUrl=u.get("baseUrl")),!!Object.keys(d).length){s(null);try{await O(`/auth/providers/${i}`,d),r.target.reset(),o()}catch(l){s(l)}}}async function c(r){try{await V(`/auth/providers/${r}`),o()}catch(i){s(i)}}return S`<section aria-labelledby="providers-title">
    <h2 id="providers-title">Model provider keys</h2>
    <p class="muted">Your own keys for the agent's model requests; without one, the service's are used. A key is never shown again.</p>
    ${qt.map(r=>{let i=e.find(u=>u.provider===r);return S`<form class="row provider" key=${r} data-provider=${r} onSubmit=${u=>a(u,r)} aria-label=${`${r} key`}>
        <strong>${r}</strong>
        <span class="muted">${i?`${i.hasApiKey?`key ${i.keyHint||"stored"}`:"no key"}${i.baseUrl?` \xB7 ${i.baseUrl}`:""}`:"not set"}</span>
        <input name="apiKey" type="password" autocomplete="off" placeholder="API key" aria-label=${`${r} API key`} />
        <input name="baseUrl" type="url" placeholder="Base URL (optional)" aria-label=${`${r} base URL`} />
        <button type="submit">Save</button>
        ${i?S`<button type="button" class="deny" onClick=${()=>c(r)}>Remove</button>`:null}
      </form>`})}
    <${z} error=${n} />
  </section>`}function dt(){let[e,t]=m(null),[n,s]=m(null);return I(()=>{q("/auth/whoami").then(t,s)},[]),e?S`<section class="session account">
    <h1>Account</h1>
    <p><strong>${e.email}</strong> <span class="muted">· ${e.roles.join(", ")}</span></p>
    <${Ut} />
    ${e.permissions.includes("profile:write")?S`<${Mt} />`:null}
    ${e.permissions.includes("apikeys:manage")?S`<${Dt} permissions=${e.permissions} />`:null}
    ${e.permissions.includes("users:admin")?S`<${At} me=${e} />`:null}
  </section>`:S`<section class="session"><${z} error=${n} /></section>`}var p=B.bind(R),Pe=200,Te=new Set(["queued","running","awaiting_approval","awaiting_input"]);function _t(){if(location.hash==="#/account")return{sessionId:null,tab:"account"};let[,e,t]=location.hash.match(/^#\/s\/([0-9a-f-]+)(?:\/(files))?/)||[];return{sessionId:e||null,tab:t||"task"}}function Nt(){let[e,t]=m(_t());return I(()=>{let n=()=>t(_t());return window.addEventListener("hashchange",n),()=>window.removeEventListener("hashchange",n)},[]),e}function L({error:e}){return e?p`<p class="error" role="alert">${e.message||String(e)}</p>`:null}function Ht({onSignedIn:e}){let[t,n]=m(null),[s,o]=m(!1);async function a(c){c.preventDefault();let r=new FormData(c.target);o(!0),n(null);try{e(await rt(r.get("email"),r.get("password")))}catch(i){n(i)}finally{o(!1)}}return p`<main class="signin">
    <form onSubmit=${a} aria-label="Sign in">
      <h1>roo console</h1>
      <label>Email <input name="email" type="email" autocomplete="username" required /></label>
      <label>Password <input name="password" type="password" autocomplete="current-password" required /></label>
      <button type="submit" disabled=${s}>Sign in</button>
      <${L} error=${t} />
    </form>
  </main>`}function Rt({current:e,onChange:t,version:n}){let[s,o]=m([]),[a,c]=m(null),r=()=>q("/sessions?limit=100").then(d=>o(d.items),c);I(()=>{r()},[n]);async function i(d){d.preventDefault();let l=new FormData(d.target).get("name").trim();try{let f=await F("/sessions",l?{name:l}:{});d.target.reset(),await r(),location.hash=`#/s/${f.id}`}catch(f){c(f)}}async function u(d){if(confirm(`Delete session "${d.name}" and its workspace?`))try{await V(`/sessions/${d.id}`),e===d.id&&(location.hash="#/"),await r(),t()}catch(l){c(l)}}return p`<nav class="sessions" aria-label="Sessions">
    <form onSubmit=${i} class="row">
      <input name="name" placeholder="New session name" aria-label="New session name" maxlength="200" />
      <button type="submit">Create</button>
    </form>
    <${L} error=${a} />
    <ul>
      ${s.map(d=>p`<li key=${d.id} class=${d.id===e?"current":""}>
          <a href=${`#/s/${d.id}`}>${d.name}</a>
          <span class="muted">${d.state}</span>
          <button class="icon" title="Delete session" aria-label=${`Delete ${d.name}`} onClick=${()=>u(d)}>✕</button>
        </li>`)}
    </ul>
  </nav>`}function ft({params:e}){let t=Object.entries(e||{});return p`<dl class="params">
    ${t.map(([n,s])=>p`<dt>${n}</dt><dd><pre>${typeof s=="string"?s:JSON.stringify(s,null,2)}</pre></dd>`)}
  </dl>`}function Ft({diff:e,truncated:t}){if(e==null)return p`<p class="muted">The change is too large to show.</p>`;let n=s=>s.startsWith("+++")||s.startsWith("---")?"file":s[0]==="+"?"add":s[0]==="-"?"del":s[0]==="@"?"hunk":"";return p`<pre class="diff">${e.replace(/\n$/,"").split(`
`).map(s=>p`<span class=${n(s)}>${s}</span>`)}</pre>
    ${t?p`<p class="muted">(diff cut)</p>`:null}`}function Ot({ask:e,act:t}){let[n,s]=m(""),[o,a]=m(null),c=(r,i)=>t(e.taskId,{action:r,approvalId:e.approvalId,...i?{text:i,feedback:i}:{}}).catch(a);return e.resolved?p`<div class="ask resolved" data-approval=${e.approvalId}>
      <strong>${e.kind==="followup"?"Question":"Approval"}</strong> ${e.text||e.tool}
      <span class="muted"> — ${e.resolved.action}${e.resolved.text?`: ${e.resolved.text}`:""}</span>
    </div>`:e.kind==="followup"?p`<div class="ask open" data-approval=${e.approvalId}>
      <p><strong>Question:</strong> ${e.text}</p>
      <div class="row">
        ${(e.suggestions||[]).map(r=>{let i=typeof r=="string"?r:r.text||r.answer;return p`<button class="suggestion" onClick=${()=>c("answer",i)}>${i}</button>`})}
      </div>
      <form class="row" onSubmit=${r=>(r.preventDefault(),c("answer",n))}>
        <input value=${n} onInput=${r=>s(r.target.value)} placeholder="Your answer" aria-label="Your answer" />
        <button type="submit">Answer</button>
      </form>
      <${L} error=${o} />
    </div>`:p`<div class="ask open" data-approval=${e.approvalId}>
    <p><strong>Approve ${e.tool||e.kind}?</strong></p>
    ${e.kind==="command"?p`<pre class="command">${e.text}</pre>`:p`<${ft} params=${e.params} />`}
    <div class="row">
      <button class="approve" onClick=${()=>c("approve",n)}>Approve</button>
      <button onClick=${()=>c("approve_always",n)}>Always</button>
      <input value=${n} onInput=${r=>s(r.target.value)} placeholder="Feedback (optional)" aria-label="Feedback" />
      <button class="deny" onClick=${()=>c("deny",n)}>Deny</button>
    </div>
    <${L} error=${o} />
  </div>`}function Lt({item:e,act:t}){switch(e.type){case"text":return e.kind==="reasoning"?p`<details class="reasoning"><summary>Reasoning</summary><p>${e.text}</p></details>`:p`<p class="assistant">${e.text}</p>`;case"tool":return p`<div class="tool" data-call=${e.callId}>
        <div class="tool-head"><code>${e.tool}</code>
          ${e.end?p`<span class=${e.end.isError?"bad":"good"}>${e.end.isError?"failed":"done"} (${e.end.durationMs} ms)</span>`:p`<span class="muted">running…</span>`}
        </div>
        ${e.tool==="execute_command"?p`<pre class="command">$ ${e.params.command}</pre>`:p`<details><summary>parameters</summary><${ft} params=${e.params} /></details>`}
        ${e.output?p`<pre class="output">${e.output}</pre>`:null}
        ${e.end&&e.end.data&&"diff"in e.end.data?p`<${Ft} diff=${e.end.data.diff} truncated=${e.end.data.diffTruncated} />`:null}
      </div>`;case"ask":return p`<${Ot} ask=${e} act=${t} />`;case"complete":return p`<div class="complete"><strong>Completed</strong><p>${e.result}</p></div>`;case"error":return p`<p class="error">${e.text}</p>`;default:return p`<p class="note muted">${e.text}</p>`}}function jt({sessionId:e,disabled:t,onError:n}){let[s,o]=m([]),[a,c]=m("");I(()=>{q(`/sessions/${e}/modes`).then(i=>(o(i.modes||i.items||[]),c(i.defaultMode||"")),()=>o([]))},[e]);async function r(i){i.preventDefault();let u=new FormData(i.target),d={};u.get("mode")&&(d.mode=u.get("mode")),u.get("model").trim()&&(d.model=u.get("model").trim());try{await F(`/sessions/${e}/tasks`,{input:u.get("input"),config:d}),i.target.reset()}catch(l){n(l)}}return p`<form class="newtask" onSubmit=${r} aria-label="Start a task">
    <textarea name="input" required maxlength="10000" rows="3" placeholder="What should the agent do?" aria-label="What should the agent do?"></textarea>
    <div class="row">
      <label>Mode <select name="mode" aria-label="Mode" value=${a} onChange=${i=>c(i.target.value)}>${s.map(i=>p`<option value=${i.slug}>${i.name}</option>`)}</select></label>
      <label>Model <input name="model" placeholder="default" /></label>
      <button type="submit" disabled=${t}>Start task</button>
    </div>
  </form>`}function Wt({sessionId:e}){let[,t]=m(0),[n,s]=m("connecting"),[o,a]=m(null),c=ke(null),r=ke(null),[i,u]=m(""),[d,l]=m(Pe);I(()=>{c.current=Ie();let h=0,E=()=>{h||(h=requestAnimationFrame(()=>(h=0,t(M=>M+1))))},T=new ue(e,{onEvent:M=>(lt(c.current,M),E()),onHello:M=>{for(let A of M.state?.tasks||[]){let j=c.current.tasks.get(A.id)||{id:A.id,todos:[]};c.current.tasks.set(A.id,{...j,state:A.state,todos:A.todos||j.todos})}E()},onStatus:s});return r.current=T,T.open(),()=>(T.close(),h&&cancelAnimationFrame(h))},[e]);let f=c.current||Ie(),_=[...f.tasks.values()],g=_.filter(h=>Te.has(h.state)),$=g[g.length-1]||_[_.length-1],w=(h,E)=>O(`/sessions/${e}/tasks/${h}`,E),v=()=>V(`/sessions/${e}/tasks/${$.id}`).catch(a);async function b(h){h.preventDefault();try{await w($.id,{action:"message",text:i}),u("")}catch(E){a(E)}}let y=$?.usage?.usage||$?.usage?.taskUsage||null;return p`<section class="taskpanel">
    <div class="status row">
      <span class=${`dot ${n}`} data-status=${n}>${n}</span>
      ${$?p`<span>task <code>${$.id.slice(0,8)}</code>: <strong data-task-state=${$.state}>${$.state}</strong></span>`:null}
      ${y?p`<span class="muted">${y.inputTokens??y.input_tokens??0} in / ${y.outputTokens??y.output_tokens??0} out${y.cost!=null?` \xB7 $${Number(y.cost).toFixed(4)}`:""}</span>`:null}
      ${$&&Te.has($.state)?p`<button class="deny" onClick=${v}>Cancel task</button>`:null}
    </div>
    ${$?.todos?.length?p`<ul class="todos">${$.todos.map(h=>p`<li class=${h.status}>${h.content||h.text||JSON.stringify(h)}</li>`)}</ul>`:null}
    <div class="timeline" aria-live="polite" data-event-count=${f.count} data-last-seq=${f.lastSeq}>
      ${f.items.length>d?p`<button class="link" onClick=${()=>l(d+Pe)}>Show ${Math.min(Pe,f.items.length-d)} earlier of ${f.items.length-d}</button>`:null}
      ${f.items.slice(-d).map(h=>p`<${Lt} key=${h.seq} item=${h} act=${w} />`)}
    </div>
    <${L} error=${o} />
    ${$&&$.state!=="queued"&&(Te.has($.state)||$.state==="completed")?p`<form class="row" onSubmit=${b}><input value=${i} onInput=${h=>u(h.target.value)} placeholder="Message the agent" aria-label="Message" required /><button type="submit">Send</button></form>`:null}
    ${$&&["failed","interrupted","cancelled"].includes($.state)?p`<button onClick=${()=>w($.id,{action:"resume"}).catch(a)}>Resume</button>`:null}
    <${jt} sessionId=${e} disabled=${g.length>0} onError=${a} />
  </section>`}var pt=e=>`${(e/1048576).toFixed(1)} MiB`;function Bt({sessionId:e,onChange:t}){let[n,s]=m(null),[o,a]=m(null),[c,r]=m(null),i=()=>{q(`/sessions/${e}`).then(s,r),q(`/sessions/${e}/resources`).then(a,()=>a(null))};I(i,[e]);async function u(l){try{s(await O(`/sessions/${e}`,{state:l})),t()}catch(f){r(f)}}if(!n)return p`<${L} error=${c} />`;let d=n.state==="archived";return p`<div class="sessionhead row">
    <h1>${n.name}</h1>
    <span class="muted" data-session-state=${n.state}>${n.state}</span>
    ${o?p`<span class="muted" data-resources>disk ${pt(o.disk.usedBytes)} of ${pt(o.disk.limitBytes)} · ${o.disk.usedFiles} of ${o.disk.limitFiles} files · ${o.runningTasks} task(s) active</span>`:null}
    <span class="spacer"></span>
    <button class="link" onClick=${i} aria-label="Refresh the session" title="Refresh">↻</button>
    ${d?p`<button onClick=${()=>u("active")}>Restore</button>`:p`<button onClick=${()=>u("archived")}>Archive</button>`}
    <${L} error=${c} />
  </div>`}function Kt({sessionId:e,tab:t,onChange:n}){return p`<section class="session">
    <${Bt} sessionId=${e} onChange=${n} />
    <div class="tabs" role="tablist">
      <a role="tab" aria-selected=${t==="task"} href=${`#/s/${e}`}>Tasks</a>
      <a role="tab" aria-selected=${t==="files"} href=${`#/s/${e}/files`}>Files</a>
    </div>
    ${t==="files"?p`<${ct} sessionId=${e} />`:p`<${Wt} sessionId=${e} />`}
  </section>`}function Vt(){let[e,t]=m(null),[n,s]=m(xe()),[o,a]=m(0),{sessionId:c,tab:r}=Nt();if(I(()=>{ot(()=>t(null)),n&&Q().then(t,()=>t(null)).finally(()=>s(!1))},[]),n)return p`<p class="muted">Signing in…</p>`;if(!e)return p`<${Ht} onSignedIn=${t} />`;async function i(){await it(),location.hash="#/",t(null)}return p`<div class="shell">
    <header class="row">
      <strong>roo console</strong>
      <span class="spacer"></span>
      <a href="#/account" class="muted" data-user>${e.email}</a>
      <button onClick=${i}>Sign out</button>
    </header>
    <div class="main">
      <${Rt} current=${c} version=${o} onChange=${()=>a(u=>u+1)} />
      ${r==="account"?p`<${dt} />`:c?p`<${Kt} key=${c} sessionId=${c} tab=${r} onChange=${()=>a(u=>u+1)} />`:p`<p class="muted empty">Pick or create a session.</p>`}
    </div>
  </div>`}Be(p`<${Vt} />`,document.getElementById("app"));export{L as ErrorLine};
